"""Twilio's voice webhooks, served by the whole app as `robocall serve` runs it, fuzzed with forms signed as
Twilio signs them (so they reach the handlers: any field, any value, any call id and turn) and with garbage
(unsigned, not a form, not UTF-8): never a 500, and a refusal says what, Vietnamese first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from twilio.request_validator import RequestValidator

from robocall.models import CallAttempt, CallState, Contact
from tests.served_app import Post, posting_to_the_app

FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOKEN = "twilio-token-5678"
BASE = "http://robocall.test"
OK_STATUSES = {200, 204, 400, 403, 404, 413}

@pytest.fixture
def attempt(migrated: Engine) -> int:
    """An outbound call Twilio is placing (the state place_call leaves)."""
    with DbSession(migrated) as db:
        contact = Contact(phone="+84911000100", name="Nguyễn Văn An", category="F1", exposure_date=dt.date(2021, 8, 10))
        db.add(contact)
        db.flush()
        row = CallAttempt(contact_id=contact.id, phone=contact.phone, flow="f1_f2_followup",
                          day=dt.date(2021, 8, 15), state=CallState.DIALLING, caller_id="+842873000000")
        db.add(row)
        db.commit()
        assert row.id is not None
        return row.id


@pytest.fixture
def post(migrated: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Post]:
    for key, value in {"SECRET_KEY": "test secret", "PUBLIC_BASE_URL": BASE, "TELEPHONY_BACKEND": "twilio",
                       "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
                       "TWILIO_API_BASE": "http://127.0.0.1:9", "TWILIO_FROM_NUMBER": "+842873000000",
                       "AUDIO_ENGINE_ORDER": ""}.items():
        monkeypatch.setenv(key, value)
    with posting_to_the_app() as send:
        yield send


def signed_post(post: Post, path: str, form: list[tuple[str, str]]) -> tuple[int, str]:
    form = list(dict(form).items())  # one value a name: RequestValidator signs dicts of strings
    params = dict(form)
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
    return post(path, urlencode(form).encode(), {"X-Twilio-Signature": signature,
                                                 "Content-Type": "application/x-www-form-urlencoded"})


def assert_answered(status: int, text: str) -> None:
    assert status in OK_STATUSES, (status, text[:500])
    if status in (400, 403, 404):
        assert " / " in text, text  # Vietnamese / English


VALUE = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["", "1", "12#", "*", "0" * 40, "\x00", "a\x00", "nan", "inf", "-1e309", "1e400", "9" * 30,
                     "completed", "busy", "failed", "no-answer", "canceled", "ringing", "in-progress",
                     "machine_start", "machine_end_beep", "human", "fax", "+84911000100", "0911000100",
                     "anonymous", "client:x", "sip:a@b", "CA" + "a" * 32, "١٢٣"]),
)
FIELD = st.sampled_from(["Digits", "CallStatus", "CallDuration", "AnsweredBy", "CallSid", "From", "To",
                         "SipResponseCode", "AccountSid", "x"])
FORM = st.lists(st.tuples(FIELD, VALUE), max_size=8)
HOOK = st.sampled_from(["answer", "gather/{turn}", "silence/{turn}", "status", "amd"])
TURN = st.one_of(st.integers(-5, 5), st.sampled_from([2**31, 2**63, -(2**63)]), st.sampled_from(["x", "1.5", "%00"]))


@FUZZ
@given(form=FORM, hook=HOOK, turn=TURN, which=st.sampled_from(["ours", "ours", "none", "huge", "text"]))
@example(form=[], hook="gather/{turn}", turn=-(2**63), which="ours")  # overflowed SQLite's INTEGER: a 500
@example(form=[("CallStatus", "completed"), ("CallDuration", "nan")], hook="status", turn=1, which="ours")
@example(form=[("CallStatus", "completed"), ("CallDuration", "1e400")], hook="status", turn=1, which="ours")
@example(form=[("Digits", "\x00")], hook="gather/{turn}", turn=1, which="ours")
@example(form=[("Digits", "1" * 5000)], hook="gather/{turn}", turn=1, which="ours")
@example(form=[("CallStatus", "failed"), ("SipResponseCode", "\x00")], hook="status", turn=1, which="ours")
def test_signed_call_webhooks_of_any_shape(post: Post, attempt: int, form: list[tuple[str, str]], hook: str,
                                           turn: object, which: str) -> None:
    call = {"ours": str(attempt), "none": str(attempt + 1000), "huge": str(2**63), "text": "abc"}[which]
    path = f"/twilio/voice/{call}/{hook.format(turn=turn)}"
    assert_answered(*signed_post(post, path, form))


@FUZZ
@given(form=FORM, hook=st.sampled_from(["", "/status"]))
@example(form=[("From", "\x00"), ("CallSid", "CA1")], hook="")  # NUL: a 500 on PostgreSQL
@example(form=[("From", "+84911000200"), ("CallSid", "\x00")], hook="")
@example(form=[("From", "+84911000200"), ("CallSid", "CA2"), ("CallStatus", "completed"), ("To", "\x00")],
         hook="/status")
@example(form=[("From", "x" * 5000), ("CallSid", "CA3")], hook="")
def test_signed_hotline_webhooks_of_any_shape(post: Post, form: list[tuple[str, str]], hook: str) -> None:
    assert_answered(*signed_post(post, f"/twilio/voice/inbound{hook}", form))


@FUZZ
@given(raw=st.binary(max_size=200), signature=st.one_of(st.text(max_size=40), st.just("")),
       path=st.sampled_from(["/twilio/voice/inbound", "/twilio/voice/1/answer", "/twilio/voice/1/gather/1",
                             "/twilio/voice/" + quote("\x00") + "/status"]),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                     "application/json", "text/plain"]))
@example(raw=b"", signature="x", path="/twilio/voice/inbound",
         content_type="multipart/form-data; boundary=x")  # aiohttp's ValueError (no boundary) was a 500
@example(raw=b"Digits=%ff%fe", signature="", path="/twilio/voice/1/gather/1",
         content_type="application/x-www-form-urlencoded")
@example(raw=b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nA\r\n--x--\r\n",
         signature="x", path="/twilio/voice/inbound", content_type="multipart/form-data; boundary=x")
def test_garbage_posts_are_refused(post: Post, raw: bytes, signature: str, path: str, content_type: str) -> None:
    headers = {"Content-Type": content_type}
    if signature.isprintable():
        headers["X-Twilio-Signature"] = signature
    status, text = post(path, raw, headers)
    assert_answered(status, text)
    assert status in (400, 403, 404, 413), (status, text)  # nothing unsigned is taken


def test_a_signed_pickup_is_still_answered(post: Post, attempt: int) -> None:
    """The fixture serves a working app: Twilio's signed pick-up gets the flow's first question."""
    status, text = signed_post(post, f"/twilio/voice/{attempt}/answer", [("CallSid", "CA" + "a" * 32),
                                                                          ("CallStatus", "in-progress")])
    assert status == 200 and "<Gather" in text, text
