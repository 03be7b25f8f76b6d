"""The test suite's check for phone numbers in logs (tests/conftest.py installs it on the root logger)."""

from __future__ import annotations

import logging

from robocall.logging_setup import (
    CONTEXT_FIELDS,
    LOG_FORMAT,
    PhoneMaskingFilter,
    TextFormatter,
    json_formatter,
    unmasked_phones,
)

# What every record has (CONTEXT_FIELDS: ids, never numbers); anything else came with extra=.
_PLAIN = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", *CONTEXT_FIELDS}


class PhoneLeaks(logging.Handler):
    """Formats every record as LOG_FORMAT=text and =json would write it, masked by the production filter,
    and keeps each line that still shows a Vietnamese phone number, naming the logger and the line of
    code.  `_no_phone_in_logs` fails the test during which one was logged; `pytest_sessionfinish` fails
    the run for those logged outside any test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []
        self._mask = PhoneMaskingFilter()
        self._formats = [TextFormatter(LOG_FORMAT), json_formatter()]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            copy = logging.makeLogRecord(record.__dict__)  # the filter rewrites msg: leave the record alone
            self._mask.filter(copy)
            # JSON adds to the text only a record's extra= fields: formatted as JSON only when it has some.
            formats = self._formats if set(record.__dict__) - _PLAIN else self._formats[:1]
            for formatter in formats:
                found = unmasked_phones(formatter.format(copy))
                if found:
                    self.leaks.append(f"{record.name} ({record.pathname}:{record.lineno}, {record.levelname}): "
                                      f"number {found[0]!r} unmasked in {copy.getMessage()[:200]!r}")
                    return
        except Exception as error:  # a record our formatters cannot write: the production handler fails too
            self.leaks.append(f"{record.name} ({record.pathname}:{record.lineno}): cannot be formatted: {error!r}")
