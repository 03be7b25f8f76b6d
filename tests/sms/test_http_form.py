"""The HTTP carrier's `format: form`: one application/x-www-form-urlencoded post per message, end to end
through real RQ workers, Redis, the database, the local HTTP carrier and our receipt callback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import Engine

from robocall.sms_models import SmsMessage
from simulator.carriers import LocalHttpCarrier, LoopThread, free_port, wait_until
from sms.campaigns import create_campaign, figures
from sms.context import SmsContext
from sms.fanout import drive
from sms.gateways.base import Outcome, Outgoing
from sms.gateways.http import MAX_RETRY_AFTER, _results, _seconds
from sms.prepare import Template
from sms.recipients import csv_fields, csv_recipients
from sms.web import add_sms_routes
from tests.sms.conftest import write_csv

VI = "Sở Y tế Đà Nẵng: anh/chị {{ ho_va_ten }} đến trạm y tế phường để xét nghiệm (hỏi: +84 236 3822 & 115)."
PEOPLE = [("Nguyễn Thị Ánh", "0912345671"), ("Trần Văn Bình", "0912345672"), ("Lê Đức Cường", "0912345673"),
          ("Phạm Thu Dung", "0912345674"), ("Hoàng Yến", "0912345675")]
REJECTED = "+84912345675"


@pytest.fixture
def webhooks(sms_env: dict[str, str]) -> Iterator[Callable[[], str]]:
    """Starts our SMS routes (the receipt callback) on a local port; call after `configure`."""
    loops: list[tuple[LoopThread, web.AppRunner]] = []

    def start() -> str:
        loop, port = LoopThread(), free_port()

        async def serve() -> web.AppRunner:
            app = web.Application()
            add_sms_routes(app)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return runner

        loops.append((loop, loop.call(serve())))
        return f"http://127.0.0.1:{port}"

    yield start
    for loop, runner in loops:
        loop.call(runner.cleanup())
        loop.stop()


def _campaign(tmp_path: Path, c: SmsContext, rows: list[tuple[str, str]], text: str = VI) -> int:
    path = write_csv(tmp_path / "list.csv", [list(r) for r in rows])
    return create_campaign(c.engine, csv_recipients(path), Template(text, False, csv_fields(path)),
                           c.router).campaign_id


def _form_gateway(configure: Callable[..., object], carrier: LocalHttpCarrier, **options: object) -> None:
    configure(SMS_GATEWAYS={"vnpt": carrier.gateway_config(format="form", **options)}, SMS_ROUTES="default=vnpt")


def test_form_posts_carry_vietnamese_text_receipts_come_back_and_a_rejection_fails_with_its_reason(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], http_carrier: LocalHttpCarrier, webhooks: Callable[[], str],
        migrated: Engine) -> None:
    _form_gateway(configure, http_carrier)
    http_carrier.receipt_url, http_carrier.receipt_secret = f"{webhooks()}/sms/receipts/vnpt", "s3cret"
    http_carrier.reject_numbers = {REJECTED}
    c = ctx()
    campaign_id = _campaign(tmp_path, c, [*PEOPLE, ("Vu Hai", "0912345676")],
                            "{% if ho_va_ten == 'Vu Hai' %}Xin chao {{ ho_va_ten }}{% else %}" + VI + "{% endif %}")
    start_workers(1)
    final = drive(c, campaign_id)
    assert final.outstanding == 0
    states = {"delivered": 5, "failed": 1}
    assert wait_until(lambda: c.drain_receipts() >= 0 and figures(c.engine, campaign_id).by_state == states)

    # One urlencoded post per message, ASCII on the wire (UTF-8 percent-encoded), the fields as documented.
    assert http_carrier.content_types == {"application/x-www-form-urlencoded": 6} and http_carrier.unauthorized == 0
    assert all(body.isascii() for body in http_carrier.form_bodies)
    posted = sorted((dict(parse_qsl(body.decode("ascii"), encoding="utf-8")) for body in http_carrier.form_bodies),
                    key=lambda m: m["to"])
    assert posted == sorted(http_carrier.messages, key=lambda m: m["to"])  # what the carrier parsed, too
    assert {frozenset(m) for m in posted} == {frozenset({"id", "to", "from", "text", "encoding"})}
    by_phone = {m["to"]: m for m in posted}
    first = by_phone["+84912345671"]
    # "+" and "&" are the classic urlencoding casualties
    assert first["text"] == ("Sở Y tế Đà Nẵng: anh/chị Nguyễn Thị Ánh đến trạm y tế phường để xét nghiệm"
                             " (hỏi: +84 236 3822 & 115).")
    assert first["encoding"] == "UCS-2" and first["from"] == "CDC"
    assert by_phone["+84912345676"]["text"] == "Xin chao Vu Hai" and by_phone["+84912345676"]["encoding"] == "GSM-7"
    with migrated.connect() as connection:
        rows = {r.phone: r for r in connection.execute(select(SmsMessage.id, SmsMessage.phone, SmsMessage.state,
                                                              SmsMessage.reason, SmsMessage.gateway_message_id))}
    assert {p: m["id"] for p, m in by_phone.items()} == {p: str(r.id) for p, r in rows.items()}  # our ids travel
    assert (rows[REJECTED].state, rows[REJECTED].reason) == ("failed", "invalid destination")
    assert rows[REJECTED].gateway_message_id is None
    # Receipts matched back by the carrier's ids: every accepted message is delivered.
    assert {r.state for p, r in rows.items() if p != REJECTED} == {"delivered"}
    assert len({r.gateway_message_id for p, r in rows.items() if p != REJECTED}) == 5


def test_form_throttled_with_retry_after_waits_then_succeeds(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], http_carrier: LocalHttpCarrier, migrated: Engine) -> None:
    http_carrier.throttle_first = 3  # HTTP 429, Retry-After: 0.2
    _form_gateway(configure, http_carrier)
    configure(SMS_MAX_ATTEMPTS=3, SMS_RETRY_SECONDS=30)  # a retry that ignored Retry-After would wait 30 s
    c = ctx()
    campaign_id = _campaign(tmp_path, c, PEOPLE)
    start_workers(1)
    final = drive(c, campaign_id, max_wait=20)
    assert final.outstanding == 0 and final.by_state == {"accepted": 5}
    assert http_carrier.requests == 5 + 3 and len(http_carrier.accepted_ids) == 5
    assert max(http_carrier.accepted_ids.values()) == 1
    throttled = [(t, our) for t, our, status in http_carrier.arrivals if status == 429]
    assert len(throttled) == 3
    for at, our in throttled:  # each throttled message came back once Retry-After had passed, and went
        again = [t for t, other, status in http_carrier.arrivals if other == our and status == 200]
        assert len(again) == 1 and again[0] - at >= 0.2
    with migrated.connect() as connection:
        attempts = sorted(connection.execute(select(SmsMessage.attempts)).scalars())
        reasons = set(connection.execute(select(SmsMessage.reason)).scalars())
    assert attempts == [1, 1, 1, 1, 1] and reasons == {""}  # a "slow down" costs no try


def test_a_form_reply_without_our_id_belongs_to_the_one_message_posted() -> None:
    one = [Outgoing(7, "+84912345671", "x", "GSM-7", "CDC")]
    (result,) = _results(one, {"status": "accepted", "message_id": "abc"})
    assert (result.id, result.outcome, result.gateway_message_id) == (7, Outcome.ACCEPTED, "abc")
    (result,) = _results(one, {"status": "rejected", "error": "blacklisted"})
    assert (result.outcome, result.reason) == (Outcome.REJECTED, "blacklisted")
    two = [*one, Outgoing(8, "+84912345672", "x", "GSM-7", "CDC")]  # a batch: ids are needed to tell them apart
    assert {r.outcome for r in _results(two, {"results": [{"status": "accepted", "message_id": "a"}]})} == {
        Outcome.TRANSIENT}


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = dt.datetime(2021, 8, 12, 8, 0, tzinfo=dt.UTC)
    assert _seconds("0.2", now) == 0.2 and _seconds("120", now) == 120
    assert _seconds("Thu, 12 Aug 2021 08:00:30 GMT", now) == 30
    assert _seconds("Thu, 12 Aug 2021 07:59:00 GMT", now) == 0  # already past: go now
    assert _seconds("86400000", now) == MAX_RETRY_AFTER
    assert _seconds("inf", now) is None and _seconds("nan", now) is None and _seconds("soon", now) is None
    assert _seconds(None, now) is None and _seconds("", now) is None
