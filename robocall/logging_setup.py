"""Logging configuration that keeps phone numbers out of the logs.

Phone numbers of people being traced are personal data. Logs get copied,
shipped and shared, so every log line written by :func:`configure_logging`
passes through :class:`PhoneMaskingFilter`.

Masking rule (:func:`mask_phone`): keep a leading ``+``, the first 3 digits
(country code / operator prefix, useful to debug routing) and the last 2 digits
(enough to tell numbers apart while reading logs); replace every other digit
with ``*``, so the length stays visible:

    +84912345678 -> +849******78
    0912345678   -> 091*****78

In log text, anything that looks like a phone number is masked: a run of 9 to
13 digits, optionally preceded by ``+`` (or its URL encoding ``%2B``), not part
of a longer word, number or decimal. That also hits some non-phone values such
as 10-digit Unix timestamps; a false positive is cheaper than a leaked number.
Numbers written with spaces or dashes between digit groups are not recognised
in log text: log numbers in E.164 form.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

_KEEP_HEAD = 3
_KEEP_TAIL = 2

_PHONE_IN_TEXT = re.compile(
    # Not inside a word, number, decimal or URL escape. Letters and digits
    # ([^\W_]) count as "word", but "_" and "-" do not: file_0912345678.wav is masked.
    r"(?<![^\W_])(?<![.+%])"
    r"(?P<prefix>\+|%2[Bb])?"
    r"(?P<digits>\d{9,13})"
    r"(?![^\W_]|\.\d)"
)

# Marks the handler configure_logging installed, so calling it again replaces it.
_OUR_HANDLER = "_robocall_handler"


def _mask_digits(digits: str) -> str:
    hidden = len(digits) - _KEEP_HEAD - _KEEP_TAIL
    if hidden <= 0:
        return digits
    return digits[:_KEEP_HEAD] + "*" * hidden + digits[-_KEEP_TAIL:]


def mask_phone(number: str) -> str:
    """Mask a phone number for logs: ``+84912345678`` -> ``+849******78``.

    Separators (spaces, dashes, dots, brackets) are dropped. Numbers of 5 digits
    or fewer (short codes such as 115) are returned unchanged: there is nothing
    personal to hide. Strings without digits are returned unchanged.
    """
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= _KEEP_HEAD + _KEEP_TAIL:
        return number
    plus = "+" if number.strip().startswith("+") else ""
    return plus + _mask_digits(digits)


def mask_phones_in_text(text: str) -> str:
    """``text`` with everything that looks like a phone number masked."""
    return _PHONE_IN_TEXT.sub(
        lambda m: (m.group("prefix") or "") + _mask_digits(m.group("digits")), text
    )


class PhoneMaskingFilter(logging.Filter):
    """Masks phone numbers in a record's message, arguments and traceback.

    Attach it to handlers, not loggers: logger filters don't see records that
    propagate up from child loggers. The message is rendered (``msg % args``)
    and masked as a whole, so phone numbers in any argument type are covered.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phones_in_text(_render_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            # Render now so the masked text is what formatters print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones_in_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones_in_text(record.stack_info)
        return True


def _render_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # msg and args don't fit; keep both visible, and masked
        return f"{record.msg} (log arguments: {record.args!r})"


def configure_logging(level: str | int = "INFO", *, stream: TextIO | None = None) -> logging.Handler:
    """Log to ``stream`` (default stderr) at ``level``, phone numbers masked.

    Calling it again replaces the handler it installed earlier; handlers
    installed by others (e.g. pytest's log capture) are left alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(PhoneMaskingFilter())
    setattr(handler, _OUR_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
