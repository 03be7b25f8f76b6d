"""Phone numbers must never reach the logs unmasked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from robocall.logging_setup import (
    PhoneMaskingFilter,
    configure_logging,
    mask_phone,
    mask_phones_in_text,
    unmasked_phones,
)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+84912345678", "+849******78"),
        ("0912345678", "091*****78"),
        ("+84 912-345.678", "+849******78"),  # separators dropped
        ("+14155550123", "+141******23"),
        ("123456", "123*56"),
        ("115", "115"),  # short codes are not personal
        ("12345", "12345"),
        ("", ""),
        ("unknown", "unknown"),
    ],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calling +84912345678 now", "calling +849******78 now"),
        ("to=0912345678,from=84281234567", "to=091*****78,from=842******67"),
        ("GET /sms?to=%2B84912345678 200", "GET /sms?to=%2B849******78 200"),
        ("tel:+84912345678.", "tel:+849******78."),
        ("nine 123456789 digits", "nine 123****89 digits"),
        ("thirteen 1234567890123", "thirteen 123********23"),
        ("saved recording_0912345678.wav", "saved recording_091*****78.wav"),
        ("key call-0912345678-1", "key call-091*****78-1"),
    ],
)
def test_phone_like_numbers_are_masked(text: str, expected: str) -> None:
    assert mask_phones_in_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "eight digits 12345678",
        "fourteen digits 12345678901234",
        "pi is 3.14159265358979",
        "duration 1234567890.5 s",
        "call id abc1234567890",
        "uuid 550e8400-e29b-41d4-a716-44665544000a",
        "short code 115",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_phones_in_text(text) == text


def test_masking_is_idempotent() -> None:
    once = mask_phones_in_text("+84912345678")
    assert mask_phones_in_text(once) == once


def _record(msg: object, args: object = None, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_filter_masks_message_and_positional_args() -> None:
    record = _record("call %s from %d failed (%s)", ("+84912345678", 84281234567, "busy"))
    assert PhoneMaskingFilter().filter(record) is True
    assert record.getMessage() == "call +849******78 from 842******67 failed (busy)"


def test_filter_masks_mapping_args_and_non_string_messages() -> None:
    record = _record("contact %(phone)s", ({"phone": "0912345678"},))
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "contact 091*****78"

    record = _record({"to": "+84912345678"})
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "{'to': '+849******78'}"


def test_filter_survives_mismatched_args() -> None:
    record = _record("no placeholder", ("+84912345678",))
    PhoneMaskingFilter().filter(record)
    message = record.getMessage()
    assert "849******78" in message and "84912345678" not in message


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    handler = configure_logging("debug", stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_configured_logging_masks_propagated_records(log_stream: io.StringIO) -> None:
    logging.getLogger("robocall.sms.sender").info("sent to %s", "+84912345678")
    output = log_stream.getvalue()
    assert "sent to +849******78" in output
    assert "84912345678" not in output
    assert "INFO" in output and "robocall.sms.sender" in output


def test_configured_logging_masks_tracebacks(log_stream: io.StringIO) -> None:
    try:
        raise ValueError("invalid number +84912345678")
    except ValueError:
        logging.getLogger("robocall").exception("lookup failed for %s", "0912345678")
    output = log_stream.getvalue()
    assert "lookup failed for 091*****78" in output
    assert "ValueError: invalid number +849******78" in output
    assert "84912345678" not in output and "0912345678" not in output


def _is_ours(handler: logging.Handler) -> bool:
    return any(isinstance(f, PhoneMaskingFilter) for f in handler.filters)


def test_configure_logging_replaces_its_own_handler_only(log_stream: io.StringIO) -> None:
    root = logging.getLogger()
    others = [h for h in root.handlers if not _is_ours(h)]
    second = io.StringIO()
    handler = configure_logging(logging.WARNING, stream=second)
    try:
        assert [h for h in root.handlers if _is_ours(h)] == [handler]
        assert all(h in root.handlers for h in others)  # e.g. pytest's capture handler
        assert root.level == logging.WARNING
        logging.getLogger("x").info("hidden")
        logging.getLogger("x").warning("shown")
        assert second.getvalue().count("\n") == 1 and log_stream.getvalue() == ""
    finally:
        root.removeHandler(handler)


# --- the suite's own check for numbers in logs (tests/conftest.py: PhoneLeaks) ----------------------


def test_numbers_in_digit_groups_and_json_fields_are_masked() -> None:
    import json as json_module

    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream, fmt="json")
    try:
        logging.getLogger("robocall.test").info("gọi 0912 345 678 và +84 912.345.679", extra={
            "to": "84-912-345-680", "numbers": ["0912345681"], "as_int": 84912345682, "count": 3})
    finally:
        logging.getLogger().removeHandler(handler)
    line = json_module.loads(stream.getvalue())
    assert line["message"] == "gọi 091*****78 và +849******79"
    assert (line["to"], line["numbers"], line["as_int"], line["count"]) == ("849******80", ["091*****81"], "849******82", 3)
    assert not unmasked_phones(stream.getvalue())


def test_the_suites_leak_check_names_the_logger_and_line_of_a_number_that_gets_through() -> None:
    from log_leaks import PhoneLeaks

    leaks = PhoneLeaks()
    record = logging.LogRecord("robocall.somewhere", logging.DEBUG, "/src/robocall/x.py", 42,
                               "SMS to %s", ("0912 345 678",), None)
    leaks.handle(record)
    assert leaks.leaks == []  # masked by the production filter: nothing leaks
    leaks._mask = logging.Filter()  # a handler without the filter: what the check is there to catch
    leaks.handle(record)
    assert len(leaks.leaks) == 1
    assert leaks.leaks[0].startswith("robocall.somewhere (/src/robocall/x.py:42, DEBUG): number '0912 345 678'")
    extra = logging.makeLogRecord({"name": "robocall.json", "msg": "SMS sent", "to": "84912345678"})
    leaks = PhoneLeaks()
    leaks.handle(extra)
    assert leaks.leaks == []  # the JSON formatter masks extra= fields too
    leaks._formats[1] = logging.Formatter("%(message)s %(to)s")  # one that writes the field as given
    leaks.handle(extra)
    assert len(leaks.leaks) == 1 and "'84912345678'" in leaks.leaks[0]
    assert unmasked_phones("+84 912 345 678, 84912345678; 0.123456789 s, 091*****78") == ["+84 912 345 678",
                                                                                         "84912345678"]
