"""Inbound SMS (STOP / TU CHOI), the carrier callbacks and the campaign HTTP API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from robocall.config import get_settings
from robocall.conversations.sms_declaration import DeclarationRules
from robocall.models import Contact
from robocall.reports import provincial_report
from robocall.sms_models import SmsInbound, SmsMessage, SmsMessagePart, SmsOptOut
from simulator.carriers import LocalSmsc, wait_until
from sms.campaigns import create_campaign, figures
from sms.context import SmsContext
from sms.inbound import handle_inbound, keyword
from sms.prepare import Template
from sms.recipients import Recipient
from sms.send import send_batch
from sms.web import add_sms_routes, webhook_headers


def rules() -> DeclarationRules:
    """How declarations run with this test's settings (the SMS context builds the same at start-up)."""
    return DeclarationRules.from_settings(get_settings())



def test_keywords_are_read_without_accents_case_or_spaces() -> None:
    assert keyword("Từ chối") == keyword("tu  choi!") == keyword("TUCHOI") == "TUCHOI"
    assert keyword("stop.") == "STOP" and keyword("kb 0912") == "KB" and keyword("") == ""


def test_stop_opts_out_contacts_and_strangers(migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(insert(Contact).values(phone="+84912345678", name="An"))
    assert handle_inbound(migrated, rules(), "sim", "0912345678", "Từ chối") == "opt_out"
    assert handle_inbound(migrated, rules(), "sim", "+84981234567", "STOP") == "opt_out"
    assert handle_inbound(migrated, rules(), "sim", "+84981234568", "xin chào") == "none"
    with migrated.connect() as connection:
        assert connection.execute(select(Contact.opted_out).where(Contact.phone == "+84912345678")).scalar() is True
        assert set(connection.execute(select(SmsOptOut.phone)).scalars()) == {"+84912345678", "+84981234567"}
        assert connection.execute(select(SmsInbound.action).order_by(SmsInbound.id)).scalars().all() == [
            "opt_out", "opt_out", "none"]


def test_an_opt_out_stops_messages_already_queued(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345678"), Recipient(2, "0912345679")],
                              Template("Hi", False), c.router)
    handle_inbound(migrated, rules(), "sim", "0912345678", "TU CHOI")
    send_batch(c, summary.campaign_id, 0, 10**9)
    with migrated.connect() as connection:
        rows = dict(connection.execute(select(SmsMessage.phone, SmsMessage.reason)).all())
    assert rows["+84912345678"] == "opted out"


def test_mo_over_smpp_opts_out(ctx: Callable[[], SmsContext], configure: Callable[..., Any], smsc: LocalSmsc,
                               migrated: Engine) -> None:
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config()}, SMS_ROUTES="default=viettel")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0981234567")], Template("Hi", False), c.router)
    send_batch(c, summary.campaign_id, 0, 10**9)  # binds the transceiver
    smsc.mo("84981234567", "Từ chối")
    assert wait_until(lambda: migrated.connect().execute(select(SmsOptOut.phone)).scalars().all() == ["+84981234567"])



def _with_client(test: Callable[[TestClient], Any]) -> None:
    async def run() -> None:
        app = web.Application()
        add_sms_routes(app)
        async with TestClient(TestServer(app)) as client:
            await test(client)
    asyncio.run(run())


def _one_message_accepted_as(ctx: Callable[[], SmsContext], configure: Callable[..., Any], migrated: Engine,
                             carrier_id: str) -> SmsContext:
    """One message through gateway `vnpt`, accepted as if the carrier had taken it with `carrier_id`."""
    configure(SMS_GATEWAYS={"vnpt": {"kind": "sim"}}, SMS_ROUTES="default=vnpt")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345678")], Template("Hi", False), c.router)
    send_batch(c, summary.campaign_id, 0, 10**9)
    with migrated.begin() as connection:
        connection.execute(SmsMessage.__table__.update().values(state="accepted", gateway_message_id=carrier_id))
        connection.execute(SmsMessagePart.__table__.update().values(gateway_message_id=carrier_id))
    return c


def test_receipt_callback_rejects_unsigned_calls_and_applies_signed_ones(ctx: Callable[[], SmsContext],
                                                                        configure: Callable[..., Any],
                                                                        migrated: Engine) -> None:
    _one_message_accepted_as(ctx, configure, migrated, "H77")
    body = json.dumps({"receipts": [{"message_id": "H77", "status": "failed", "error": "absent subscriber"}]}).encode()

    async def test(client: TestClient) -> None:
        assert (await client.post("/sms/receipts/vnpt", data=body)).status == 401
        assert (await client.post("/sms/receipts/vnpt", data=body,
                                  headers=webhook_headers("wrong", body))).status == 401
        response = await client.post("/sms/receipts/vnpt", data=body, headers=webhook_headers("s3cret", body))
        assert response.status == 200 and (await response.json())["applied"] == 1

    _with_client(test)
    with migrated.connect() as connection:
        assert connection.execute(select(SmsMessage.state, SmsMessage.reason)).all() == [("failed", "absent subscriber")]


def test_inbound_callback_and_campaign_api(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    ctx()
    body = json.dumps({"from": "0912345678", "text": "STOP"}).encode()

    async def test(client: TestClient) -> None:
        response = await client.post("/sms/inbound/sim", data=body, headers=webhook_headers("s3cret", body))
        assert (await response.json()) == {"action": "opt_out"}
        assert (await client.get("/api/sms/campaigns")).status == 401
        auth = {"Authorization": "Bearer api-token"}
        created = await client.post("/api/sms/campaigns", headers=auth,
                                    json={"text": "Thông báo", "phones": ["0912345678", "0912345679", "123"]})
        assert created.status == 201
        data = await created.json()
        assert (data["recipients"], data["invalid"], data["opted_out"]) == (1, 1, 1)
        paused = await client.post(f"/api/sms/campaigns/{data['id']}/pause", headers=auth)
        assert (await paused.json())["status"] == "paused"

    _with_client(test)


def test_report_counts_sms_sent(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    c = ctx()
    summary = create_campaign(migrated, [Recipient(i, f"09123456{i:02d}") for i in range(50)],
                              Template("Hi", False), c.router)
    send_batch(c, summary.campaign_id, 0, 10**9)
    c.drain_receipts()
    states = figures(migrated, summary.campaign_id).by_state
    sent = states.get("accepted", 0) + states.get("delivered", 0)
    assert 0 < sent <= 50
    assert provincial_report(migrated, None, None, "Asia/Ho_Chi_Minh").sms_sent == sent


def test_smpp_gateway_binds_again_after_the_smsc_restarts(ctx: Callable[[], SmsContext], configure: Callable[..., Any],
                                                          smsc: LocalSmsc, migrated: Engine) -> None:
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(submit_timeout=2)}, SMS_ROUTES="default=viettel",
              SMS_RETRY_SECONDS=0,
              SMS_CIRCUIT_FAILURES=100)
    c = ctx()
    first = create_campaign(migrated, [Recipient(1, "0981234567")], Template("Hi", False), c.router)
    assert send_batch(c, first.campaign_id, 0, 10**9).outcomes == {"accepted": 1}
    smsc.stop()
    second = create_campaign(migrated, [Recipient(1, "0981234568")], Template("Hi", False), c.router)
    assert send_batch(c, second.campaign_id, 0, 10**9).outcomes == {"transient": 1}  # down: retried later
    again = LocalSmsc(port=smsc.port).start()
    try:
        assert send_batch(c, second.campaign_id, 0, 10**9).outcomes == {"accepted": 1}
        assert again.submit_count == 1
    finally:
        again.stop()


def test_receipts_wait_out_a_drain_lock_left_by_a_killed_process(ctx: Callable[[], SmsContext], configure: Callable[..., Any],
                                                                 migrated: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock that keeps receipt appliers one at a time expires soon: a process killed while holding
    it (a worker mid-drain) holds up everyone's receipts for seconds, not minutes."""
    import time

    from sms import receipts
    from sms.gateways.base import Receipt

    monkeypatch.setattr(receipts, "_LOCK_SECONDS", 1)
    c = _one_message_accepted_as(ctx, configure, migrated, "H78")
    assert c.redis.lock(f"{c.prefix}:sms:receipts:lock", timeout=1).acquire()  # its holder dies with it
    receipts.queue_receipts(c.redis, c.prefix, "vnpt", [Receipt("H78", "delivered")])
    assert c.drain_receipts() == 0  # someone holds the lock
    time.sleep(1.2)
    assert c.drain_receipts() == 1
