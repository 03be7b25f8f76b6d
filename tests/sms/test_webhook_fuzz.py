"""The carrier callbacks (delivery receipts, inbound SMS; the HTTP carriers' signed JSON and Twilio's signed
forms), served by the whole web app as `robocall serve` runs it, fuzzed with bodies signed correctly (so
they reach the parsing) and with garbage: never a 500, and a refusal says which field, Vietnamese first."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from sms.web import webhook_headers
from tests.served_app import Post, posting_to_the_app

FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECRET = "s3cret"
TWILIO_TOKEN = "twilio-token-1234"
BASE = "http://robocall.test"
OK_STATUSES = {200, 204, 400, 401, 403, 404, 413}

@pytest.fixture
def post(sms_env: dict[str, str], migrated: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Post]:
    """POST to the whole app (every middleware of `robocall serve`), served on a loop of its own."""
    monkeypatch.setenv("SECRET_KEY", "test secret")
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE)
    monkeypatch.setenv("SMS_GATEWAYS", json.dumps({
        "sim": {"kind": "sim", "rate": 50000},
        "tw": {"kind": "twilio", "account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN, "from": "+84900000000"}}))
    with posting_to_the_app() as send:
        yield send


def assert_answered(status: int, text: str) -> None:
    """No 500; a 400 is JSON naming the field, its message Vietnamese first."""
    assert status in OK_STATUSES, (status, text[:500])
    if status == 400:
        error = json.loads(text)
        assert error["field"], error
        assert " / " in error["error"], error


# Strings that make trouble for databases, encoders and parsers.
NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "0912345678", "+84912345678", "KB", "TU CHOI",
                     "STOP", "kb en", "١٢٣", "9" * 300, "\u202e", "null", "𝕂𝔹", "\r\n", "'; DROP TABLE x;--"]),
)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), NASTY),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NASTY, inner, max_size=4)),
    max_leaves=12,
)
RECEIPT = st.one_of(
    JSON_VALUE,
    st.fixed_dictionaries({"message_id": st.one_of(NASTY, st.integers(-(2**70), 2**70)),
                           "status": st.sampled_from(["delivered", "failed", "expired", "DELIVRD", ""])},
                          optional={"error": NASTY, "id": st.one_of(NASTY, st.integers(-(2**70), 2**70), st.none())}),
)
RECEIPTS_BODY = st.one_of(JSON_VALUE, st.fixed_dictionaries({"receipts": st.lists(RECEIPT, max_size=4)}))
INBOUND_BODY = st.one_of(
    JSON_VALUE,
    st.fixed_dictionaries({"from": NASTY, "text": NASTY},
                          optional={"id": st.one_of(NASTY, st.integers(-(2**70), 2**70), st.none())}),
)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \\ud800, as JSON allows


@FUZZ
@given(body=RECEIPTS_BODY, gateway=st.sampled_from(["sim", "sim", "nope", "tw"]))
@example(body={"receipts": [{"message_id": "\ud800", "status": "delivered"}]}, gateway="sim")
@example(body={"receipts": [{"message_id": "a\x00b", "status": "failed", "error": "\x00"}]}, gateway="sim")
def test_signed_receipts_of_any_shape(post: Post, body: Any, gateway: str) -> None:
    raw = _json(body)
    assert_answered(*post(f"/sms/receipts/{gateway}", raw, webhook_headers(SECRET, raw)))


@FUZZ
@given(body=INBOUND_BODY, gateway=st.sampled_from(["sim", "sim", "nope"]))
@example(body={"from": "\ud800", "text": "KB"}, gateway="sim")
@example(body={"from": "0912345678", "text": "KB\x00\ud800"}, gateway="sim")
@example(body={"from": "0912\x00345678", "text": "STOP", "id": "\x00"}, gateway="sim")
def test_signed_inbound_sms_of_any_shape(post: Post, body: Any, gateway: str) -> None:
    raw = _json(body)
    assert_answered(*post(f"/sms/inbound/{gateway}", raw, webhook_headers(SECRET, raw)))


@FUZZ
@given(raw=st.binary(max_size=300), timestamp=st.one_of(st.none(), st.text(max_size=14), st.just("now")),
       signature=st.one_of(st.none(), st.text(max_size=70), st.just("valid")),
       path=st.sampled_from(["/sms/receipts/sim", "/sms/inbound/sim", "/sms/inbound/%00", "/sms/receipts/",
                             "/sms/twilio/tw/status", "/sms/twilio/tw/inbound", "/sms/twilio/sim/inbound"]),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain"]))
@example(raw=b"\xff\xfe", timestamp="now", signature="valid", path="/sms/inbound/sim",
         content_type="application/json")  # signed, not UTF-8
@example(raw=b"[1, 2]", timestamp="now", signature="valid", path="/sms/receipts/sim", content_type="application/json")
@example(raw=b"{}", timestamp="\u0661\u0662", signature="x", path="/sms/inbound/sim",
         content_type="application/json")  # Arabic digits: str.isdigit() takes them
@example(raw=b"{}", timestamp="now", signature="é", path="/sms/inbound/sim",
         content_type="application/json")  # hmac.compare_digest raised TypeError on a non-ASCII str: a 500
@example(raw=b"", timestamp=None, signature=None, path="/sms/twilio/tw/inbound",
         content_type="multipart/form-data; boundary=x")  # aiohttp's ValueError (no boundary) was a 500
def test_garbage_and_forged_posts(post: Post, raw: bytes, timestamp: str | None, signature: str | None,
                                  path: str, content_type: str) -> None:
    headers = {"Content-Type": content_type}
    signed = webhook_headers(SECRET, raw)
    if timestamp is not None:
        headers["X-Timestamp"] = signed["X-Timestamp"] if timestamp == "now" else timestamp
    if signature is not None:
        headers["X-Signature"] = signed["X-Signature"] if signature == "valid" else signature
    headers = {k: v for k, v in headers.items() if v.isprintable() and "\n" not in v}  # what HTTP can carry
    status, text = post(path, raw, headers)
    assert_answered(status, text)
    if signature != "valid" or timestamp != "now":
        assert status != 200 or "duplicate" in text  # nothing unsigned is taken


FORM_VALUE = st.one_of(NASTY.filter(lambda v: "\ud800" > v or v > "\udfff"),
                       st.text(st.characters(exclude_categories=["Cs"]), max_size=30))


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode", "From", "Body", "To", "x"]),
                            FORM_VALUE.filter(lambda v: not any(0xD800 <= ord(c) <= 0xDFFF for c in v)), max_size=6),
       hook=st.sampled_from(["status", "inbound"]))
@example(form={"MessageSid": "SM\x00", "MessageStatus": "failed", "ErrorCode": "\x00"}, hook="status")
@example(form={"From": "\x00", "Body": "KB\x00"}, hook="inbound")
def test_signed_twilio_sms_forms_of_any_shape(post: Post, form: dict[str, str], hook: str) -> None:
    from urllib.parse import urlencode

    url = f"{BASE}/sms/twilio/tw/{hook}"
    headers = {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, form),
               "Content-Type": "application/x-www-form-urlencoded"}
    assert_answered(*post(f"/sms/twilio/tw/{hook}", urlencode(form).encode(), headers))


def test_a_signed_post_is_still_taken(post: Post) -> None:
    """The fuzz's fixture serves a working app: a good inbound SMS is taken (the properties above are not empty)."""
    raw = _json({"from": "0912345678", "text": "TU CHOI", "id": f"mo-{time.time()}"})
    status, text = post("/sms/inbound/sim", raw, webhook_headers(SECRET, raw))
    assert (status, json.loads(text)) == (200, {"action": "opt_out"})
