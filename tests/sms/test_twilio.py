"""The Twilio Messaging gateway against the local Twilio (simulator/twilio.py): sending, status callbacks
and inbound SMS through the webhooks of sms/web.py, real Redis, RQ workers and the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from robocall.models import Contact
from robocall.sms_models import SmsInbound, SmsMessage, SmsOptOut, SmsReceipt
from simulator.carriers import LoopThread, free_port, wait_until
from simulator.twilio import LocalTwilio
from sms.campaigns import create_campaign, figures
from sms.context import SmsContext
from sms.fanout import drive
from sms.gateways.base import Outcome, Outgoing
from sms.gateways.twilio import TwilioGateway
from sms.prepare import Template
from sms.recipients import csv_recipients
from sms.send import send_batch
from sms.throttle import Breaker
from sms.web import add_sms_routes
from tests.sms.conftest import phones, write_csv

PUBLIC = "https://cdc.example.vn"  # what Twilio is told; a proxy forwards to our server
STATUS_URL = f"{PUBLIC}/sms/twilio/tw/status"
INBOUND_URL = f"{PUBLIC}/sms/twilio/tw/inbound"
# The twilio library still hands aiohttp a BasicAuth object (deprecated in aiohttp 3.14, not our code).
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning",
                                        "ignore:The 'auth' parameter is deprecated:DeprecationWarning")
LONG_VI = "Ban chỉ đạo phòng chống dịch tỉnh thông báo: " * 3  # 135 UCS-2 characters: 3 segments
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest.fixture
def peer() -> Iterator[LocalTwilio]:
    server = LocalTwilio().start()
    yield server
    server.stop()


class _WebServer:
    """sms/web.py's routes on a real port, in a thread (its start-up reads the settings in force)."""

    def start(self) -> str:
        self.stop()  # settings changed: start again with them
        self.port = free_port()
        self._loop = LoopThread()

        async def start() -> None:
            app = web.Application()
            add_sms_routes(app)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._loop.call(start())
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if hasattr(self, "_runner"):
            self._loop.call(self._runner.cleanup())
            self._loop.stop()
            del self._runner


@pytest.fixture
def serve(sms_env: dict[str, str]) -> Iterator[Callable[[], str]]:
    server = _WebServer()
    yield server.start
    server.stop()


@pytest.fixture
def twilio_setup(peer: LocalTwilio, configure: Callable[..., Any], serve: Callable[[], str]) -> Callable[..., None]:
    """Configure gateway `tw` on the local Twilio (public webhook URLs behind a proxy) and start the web app."""
    def setup(**settings: Any) -> None:
        gateway = peer.gateway_config(status_callback=STATUS_URL, inbound_url=INBOUND_URL,
                                      **settings.pop("gateway", {}))
        configure(SMS_GATEWAYS={"tw": gateway}, SMS_ROUTES="default=tw", **settings)
        peer.via = (PUBLIC, serve())
    return setup


def _campaign(tmp_path: Path, c: SmsContext, numbers: list[str], text: str = "Thông báo khẩn") -> int:
    path = write_csv(tmp_path / "list.csv", [["x", n] for n in numbers])
    return create_campaign(c.engine, csv_recipients(path), Template(text, False), c.router).campaign_id


def _rows(engine: Engine, campaign_id: int) -> dict[str, tuple[str, str, int, str | None]]:
    """phone -> (state, reason, attempts, gateway_message_id)"""
    with engine.connect() as connection:
        return {r.phone: (r.state, r.reason, r.attempts, r.gateway_message_id) for r in connection.execute(
            select(SmsMessage.phone, SmsMessage.state, SmsMessage.reason, SmsMessage.attempts,
                   SmsMessage.gateway_message_id).where(SmsMessage.campaign_id == campaign_id))}


def _settled(c: SmsContext, campaign_id: int, expected: dict[str, int], timeout: float = 10) -> dict[str, int]:
    """Status callbacks come after sending: wait for them to be matched (draining what arrived early)."""
    wait_until(lambda: c.drain_receipts() >= 0 and figures(c.engine, campaign_id).by_state == expected, timeout)
    return figures(c.engine, campaign_id).by_state


def test_campaign_through_twilio_every_message_delivered_and_matched_by_its_status_callback(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None],
        start_workers: Callable[..., object], peer: LocalTwilio) -> None:
    numbers = phones(30, "091") + phones(10, "098")
    peer.undelivered_numbers = {"+84910000003": "30003", "+84980000007": "30005"}
    twilio_setup()
    c = ctx()
    campaign_id = _campaign(tmp_path, c, numbers, LONG_VI)
    start_workers(1)
    final = drive(c, campaign_id)
    assert final.outstanding == 0
    assert _settled(c, campaign_id, {"delivered": 38, "failed": 2}) == {"delivered": 38, "failed": 2}
    rows = _rows(c.engine, campaign_id)
    assert rows["+84910000003"][:2] == ("failed", "twilio 30003")
    assert rows["+84980000007"][:2] == ("failed", "twilio 30005")
    # What Twilio got: one message per person, the Vietnamese text intact (Twilio splits it: 3 UCS-2 segments).
    assert len(peer.messages) == 40 and max(peer.sent_to.values()) == 1
    assert {m["body"] for m in peer.messages} == {LONG_VI} and {m["num_segments"] for m in peer.messages} == {"3"}
    assert {m["from"] for m in peer.messages} == {"CDC"}  # SMS_SENDER
    assert {m["to"]: m["sid"] for m in peer.messages} == {phone: row[3] for phone, row in rows.items()}
    # Every callback (sent, then delivered/undelivered) came through the proxy, signed for the public URL
    # (the peer notes a callback once our answer is back: after the state changed).
    wait_until(lambda: peer.callback_statuses() == {"sent": 40, "delivered": 38, "undelivered": 2}, 10)
    assert peer.callback_statuses() == {"sent": 40, "delivered": 38, "undelivered": 2}
    assert peer.via is not None and {cb.url for cb in peer.callbacks} == {f"{peer.via[1]}/sms/twilio/tw/status"}


def test_forged_or_missing_signatures_are_refused_and_change_nothing(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None], peer: LocalTwilio,
        migrated: Engine) -> None:
    peer.report = False  # callbacks by hand only
    twilio_setup()
    c = ctx()
    campaign_id = _campaign(tmp_path, c, ["0912345678"])
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"accepted": 1}
    sid = peer.messages[0]["sid"]
    failed = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003", "AccountSid": peer.account_sid}
    assert peer.via is not None
    local = peer.via[1]
    forgeries = {
        "no signature": "",
        "another token": LocalTwilio(auth_token="not-the-token").signature(STATUS_URL, failed),
        "signed for the URL our server sees, not the public one": peer.signature(
            f"{local}/sms/twilio/tw/status", failed),
        "signed for other params": peer.signature(STATUS_URL, {**failed, "MessageStatus": "delivered"}),
        "garbage": "not base64 at all",
    }
    for why, signature in forgeries.items():
        assert peer.post_status(STATUS_URL, failed, signature) == 403, why
    assert peer.mo(INBOUND_URL, "+84912345678", "STOP", signature="")[0] == 403
    assert peer.mo(INBOUND_URL, "+84912345678", "STOP", signature=peer.signature(STATUS_URL, {}))[0] == 403
    assert peer.post_status(STATUS_URL.replace("/tw/", "/nope/"), failed) == 404  # unknown gateway
    c.drain_receipts()
    assert _rows(migrated, campaign_id)["+84912345678"][:2] == ("accepted", "")
    assert c.redis.llen(f"{c.prefix}:sms:receipts") == 0
    with migrated.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SmsReceipt)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(SmsInbound)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(SmsOptOut)).scalar() == 0
    # Not final yet: ignored.  The genuine final one: applied.
    assert peer.post_status(STATUS_URL, {**failed, "MessageStatus": "sent"}) == 204
    assert peer.post_status(STATUS_URL, failed) == 200
    assert _rows(migrated, campaign_id)["+84912345678"][:2] == ("failed", "twilio 30003")


def test_twilio_answers_map_to_outcomes(peer: LocalTwilio) -> None:
    gateway = TwilioGateway("tw", peer.account_sid, peer.auth_token, api_base=peer.api_base, timeout=0.5)
    bad_key = TwilioGateway("tw", peer.account_sid, "wrong", api_base=peer.api_base)

    def one(phone: str = "+84912345678", g: TwilioGateway = gateway) -> Any:
        (result,) = g.send([Outgoing(1, phone, "Xin chào", "UCS-2", "CDC")])
        return result

    try:
        peer.throttle_first, peer.retry_after = 1, "2.5"
        assert (one().outcome, one().outcome) == (Outcome.THROTTLED, Outcome.ACCEPTED)
        peer.throttle_first, peer.retry_after = 1, None
        throttled = one()
        assert throttled.retry_after is None and throttled.reason == "twilio 20429: Too Many Requests"
        peer.throttle_first, peer.retry_after = 1, "2.5"
        assert one().retry_after == 2.5
        peer.fail_first = 1
        assert (one().outcome, one().outcome) == (Outcome.TRANSIENT, Outcome.ACCEPTED)
        assert (one(g=bad_key).outcome, one(g=bad_key).reason) == (Outcome.TRANSIENT, "twilio 20003: Authenticate")
        peer.landline_numbers, peer.unsubscribed_numbers = {"+842436000001"}, {"+84912000002"}
        assert one("+842436000001").reason == "twilio 21614: 'To' number +842436000001 is not a valid mobile number"
        assert one("+84912000002").reason == "twilio 21610: Attempt to send to unsubscribed recipient"
        assert one("0912").outcome == Outcome.REJECTED
        accepted = one()
        assert accepted.gateway_message_id == peer.messages[-1]["sid"] and accepted.gateway_message_id.startswith("SM")
        # An answer later than `timeout`: transient.  Twilio took it, and has no idempotency key: a retry sends
        # it again (the module docstring says so).
        peer.delay = 1.0
        assert one("+84912999999").outcome == Outcome.TRANSIENT
        peer.delay = 0
        assert one("+84912999999").outcome == Outcome.ACCEPTED and peer.sent_to["+84912999999"] == 2
        # Many requests in flight at once, not one after the other (a patient gateway: forty answers on a
        # loaded CI machine may take longer than the 0.5 s above).
        patient = TwilioGateway("tw", peer.account_sid, peer.auth_token, api_base=peer.api_base, timeout=10)
        peer.delay, peer.max_in_flight = 0.3, 0
        try:
            results = patient.send([Outgoing(i, f"+8491300{i:04d}", "Hi", "GSM-7", "CDC") for i in range(40)])
        finally:
            patient.close()
        assert {r.outcome for r in results} == {Outcome.ACCEPTED} and [r.id for r in results] == list(range(40))
        assert peer.max_in_flight >= 20  # one by one, it would be 1
    finally:
        gateway.close()
        bad_key.close()


def test_throttled_by_twilio_then_everything_goes(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None], peer: LocalTwilio) -> None:
    peer.throttle_first, peer.retry_after = 6, "1"
    twilio_setup(SMS_MAX_ATTEMPTS=5, SMS_CIRCUIT_FAILURES=100, gateway={"concurrency": 1})  # SMS_RETRY_SECONDS=0
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(10, "091"))
    first = send_batch(c, campaign_id, 0, 10**9)
    assert first.outcomes == {"throttled": 6, "accepted": 4}
    with c.engine.connect() as connection:
        waiting = connection.execute(select(SmsMessage.reason, SmsMessage.submitted_at, SmsMessage.next_try_at)
                                     .where(SmsMessage.state == "queued")).all()
    assert [w.reason for w in waiting] == ["twilio 20429: Too Many Requests"] * 6
    assert all((w.next_try_at - w.submitted_at).total_seconds() >= 1 for w in waiting)  # Retry-After honoured
    time.sleep(1.05)
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"accepted": 6}
    assert _settled(c, campaign_id, {"delivered": 10}) == {"delivered": 10}
    assert peer.requests == 16 and max(peer.sent_to.values()) == 1


def test_twilio_500s_pause_the_gateway_and_retries_are_bounded(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None],
        start_workers: Callable[..., object], peer: LocalTwilio) -> None:
    peer.fail_first = 10**6
    twilio_setup(SMS_MAX_ATTEMPTS=3, SMS_CIRCUIT_FAILURES=10, SMS_CIRCUIT_SECONDS=2, SMS_BATCH_SIZE=1000)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(20, "091"))
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"transient": 20}
    assert Breaker(c.redis, "tw", 10, 2).open_for() > 0  # the breaker opened
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"gateway_paused": 20}
    assert peer.requests == 20  # while paused, nothing reached Twilio
    start_workers(1)
    final = drive(c, campaign_id)
    assert final.by_state == {"failed": 20}
    rows = _rows(c.engine, campaign_id)
    assert {r[1] for r in rows.values()} == {"gave up after 3 tries: twilio 20500: Internal Server Error"}
    assert {r[2] for r in rows.values()} == {3}
    assert peer.requests == 60 and not peer.messages  # 3 tries each, no more


def test_invalid_numbers_are_rejected_with_the_twilio_code(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None], peer: LocalTwilio) -> None:
    peer.invalid_numbers = {"+84910000001"}
    peer.landline_numbers = {"+84910000002"}
    peer.unsubscribed_numbers = {"+84910000003"}
    twilio_setup()
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(5, "091"))
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"rejected": 3, "accepted": 2}
    assert _settled(c, campaign_id, {"failed": 3, "delivered": 2}) == {"failed": 3, "delivered": 2}
    rows = _rows(c.engine, campaign_id)
    assert rows["+84910000001"][:3] == ("failed", "twilio 21211: Invalid 'To' Phone Number: +84910000001", 1)
    assert rows["+84910000002"][1].startswith("twilio 21614: ")
    assert rows["+84910000003"][1] == "twilio 21610: Attempt to send to unsubscribed recipient"
    assert peer.requests == 5  # rejected: never retried


def test_tu_choi_through_the_twilio_inbound_webhook_opts_out(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None], peer: LocalTwilio,
        migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(insert(Contact).values(phone="+84912345678", name="An"))
    twilio_setup()
    c = ctx()
    status, content_type, body = peer.mo(INBOUND_URL, "+84912345678", "TU CHOI")
    assert (status, content_type, body) == (200, "text/xml", TWIML_EMPTY)
    assert peer.mo(INBOUND_URL, "+84987654321", "Xin chào")[0] == 200
    with migrated.connect() as connection:
        assert connection.execute(select(Contact.opted_out).where(Contact.phone == "+84912345678")).scalar() is True
        assert connection.execute(select(SmsOptOut.phone)).scalars().all() == ["+84912345678"]
        assert connection.execute(select(SmsInbound.phone, SmsInbound.gateway, SmsInbound.action)
                                  .order_by(SmsInbound.id)).all() == [("+84912345678", "tw", "opt_out"),
                                                                      ("+84987654321", "tw", "none")]
    campaign_id = _campaign(tmp_path, c, ["0912345678", "0912345679"])
    assert figures(c.engine, campaign_id).recipients == 1  # the opted-out number is left out
    send_batch(c, campaign_id, 0, 10**9)
    assert [m["to"] for m in peer.messages] == ["+84912345679"]


def test_wrong_credentials_do_not_fail_the_messages(
        tmp_path: Path, ctx: Callable[[], SmsContext], twilio_setup: Callable[..., None], peer: LocalTwilio) -> None:
    twilio_setup(SMS_MAX_ATTEMPTS=2, SMS_CIRCUIT_FAILURES=5, SMS_CIRCUIT_SECONDS=2,
                 gateway={"auth_token": "wrong-token"})
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(10, "091"))
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"transient": 10}
    rows = _rows(c.engine, campaign_id)
    assert {r[:2] for r in rows.values()} == {("queued", "twilio 20003: Authenticate")}
    assert peer.unauthorized == 10 and not peer.messages
    assert send_batch(c, campaign_id, 0, 10**9).outcomes == {"gateway_paused": 10}  # the breaker rests it
    assert peer.requests == 10
    # Someone fixes the key: the messages were only waiting.
    twilio_setup(SMS_MAX_ATTEMPTS=2, SMS_CIRCUIT_FAILURES=5, SMS_CIRCUIT_SECONDS=2)
    fixed = ctx()
    assert wait_until(lambda: fixed.breaker("tw").open_for() == 0, timeout=5)
    assert send_batch(fixed, campaign_id, 0, 10**9).outcomes == {"accepted": 10}
    assert _settled(fixed, campaign_id, {"delivered": 10}) == {"delivered": 10}
