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
A Vietnamese number written in digit groups (``0912 345 678``, ``+84 912.345.678``,
``84-912-345-678``: ``+84``, ``84`` or ``0``, then nine digits, the first not 0,
with at most one space, dot or dash between digits) is masked too
(:func:`unmasked_phones` finds what would still leak; the test suite runs it on
every record, tests/conftest.py).

Every record also carries the ids of what it is about (:func:`log_context`):
the HTTP request, the RQ job (read from RQ itself), the call attempt, the SMS
message or campaign, the Asterisk channel.  They live in context variables, so
they follow a call from the dialer's job through the backend to the recorded
answers (threads started with ``contextvars.copy_context``, as
``robocall.web.threads`` does, and asyncio tasks inherit them).  With
``LOG_FORMAT=json`` each record is one JSON object (python-json-logger) with
those ids as fields; the text format appends them as ``[attempt=12 job=...]``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter
from rq import get_current_job

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

# A Vietnamese number as people write it, digit groups included (a run of digits alone is _PHONE_IN_TEXT's).
# "0." never opens one: that is a decimal (0.123456789 s).
_VN_PHONE = re.compile(r"(?<![\w*+%.])(?:\+84[ .-]?|84[ .-]?|0[ -]?)[1-9](?:[ .-]?\d){8}(?![\w*]|\.\d)")

# The ids a record may carry, in the order the text format shows them.  Ids only: never a number or a name.
CONTEXT_FIELDS = ("request_id", "job_id", "attempt_id", "call_id", "message_id", "campaign_id")
_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("robocall_log_context", default=None)

LogFormat = Literal["text", "json"]

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
    masked = _PHONE_IN_TEXT.sub(
        lambda m: (m.group("prefix") or "") + _mask_digits(m.group("digits")), text
    )
    return _VN_PHONE.sub(lambda m: mask_phone(m.group()), masked)


def unmasked_phones(text: str) -> list[str]:
    """The Vietnamese numbers `text` shows whole (a log line after masking should show none)."""
    return _VN_PHONE.findall(text)


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


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Records logged inside the block carry these ids (``attempt_id=12``), besides the enclosing ones."""
    unknown = set(ids) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind_log_context(**ids: object) -> None:
    """Add ids to the current context until it ends (an aiohttp middleware: the request's own task)."""
    unknown = set(ids) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: str(v) for k, v in ids.items() if v is not None}})


def current_log_context() -> dict[str, str]:
    """The ids records logged here would carry, the RQ job's included."""
    ids = dict(_CONTEXT.get() or {})
    job = get_current_job()  # RQ keeps the job it is running in process; no Redis round trip
    if job is not None and "job_id" not in ids:
        ids["job_id"] = job.id
    return ids


class ContextFilter(logging.Filter):
    """Puts the ids that are set on the record (the JSON formatter writes each as a field)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_log_context().items():
            setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """LOG_FORMAT's text lines, with the record's ids appended when it has any."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{name.removesuffix('_id')}={value}" for name in CONTEXT_FIELDS
                       if (value := getattr(record, name, None)) is not None)
        if not ids:
            return line
        head, sep, rest = line.partition("\n")  # a traceback stays below the line
        return f"{head} [{ids}]{sep}{rest}"


class MaskedJsonFormatter(JsonFormatter):
    """python-json-logger formats the traceback again from exc_info: mask that text too; and it writes a
    record's `extra=` fields as they are, which the masking filter (message, traceback) never sees."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _masked_value(value) for key, value in super().process_log_record(log_data).items()}

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return mask_phones_in_text(str(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return mask_phones_in_text(str(super().formatStack(stack_info)))


def _masked_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones_in_text(value)
    if isinstance(value, (int, float)) or value is None:  # a number stays a number unless it is a phone's
        masked = mask_phones_in_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, dict):
        return {k: _masked_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked_value(v) for v in value]
    return mask_phones_in_text(str(value))  # whatever else: written as its text


def json_formatter() -> logging.Formatter:
    """One JSON object per record: time, level, logger, message, the ids that are set, exc_info."""
    return MaskedJsonFormatter(
        "{asctime}{levelname}{name}{message}", style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False,  # Vietnamese stays readable
    )


def configure_logging(level: str | int = "INFO", *, stream: TextIO | None = None,
                      fmt: LogFormat = "text") -> logging.Handler:
    """Log to ``stream`` (default stderr) at ``level``, phone numbers masked, as text lines or JSON.

    Calling it again replaces the handler it installed earlier; handlers
    installed by others (e.g. pytest's log capture) are left alone.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter(LOG_FORMAT))
    handler.addFilter(PhoneMaskingFilter())
    handler.addFilter(ContextFilter())
    setattr(handler, _OUR_HANDLER, True)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
