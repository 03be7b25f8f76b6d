"""Receipts that name our message: found by primary key, checked against the carrier id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from robocall.sms_models import SmsMessage, SmsMessagePart
from simulator.carriers import LocalSmsc, wait_until
from sms.campaigns import create_campaign
from sms.context import SmsContext
from sms.gateways.base import Outgoing, Receipt
from sms.gateways.smpp import RecentIds, SmppGateway
from sms.prepare import Template
from sms.receipts import record_receipts
from sms.recipients import Recipient
from sms.send import send_batch


def _accepted(ctx: Callable[[], SmsContext], configure: Callable[..., Any], migrated: Engine,
              carrier_ids: list[str], with_parts: bool = True) -> list[int]:
    """Messages through gateway `vnpt`, accepted as if the carrier had taken them with `carrier_ids`."""
    configure(SMS_GATEWAYS={"vnpt": {"kind": "sim"}}, SMS_ROUTES="default=vnpt")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(i + 1, f"091234567{i}") for i in range(len(carrier_ids))],
                              Template("Hi", False), c.router)
    send_batch(c, summary.campaign_id, 0, 10**9)
    with migrated.begin() as connection:
        ids = connection.execute(select(SmsMessage.id).order_by(SmsMessage.id)).scalars().all()
        connection.execute(SmsMessagePart.__table__.delete())
        for message_id, carrier_id in zip(ids, carrier_ids):
            connection.execute(SmsMessage.__table__.update().where(SmsMessage.id == message_id).values(
                state="accepted", gateway_message_id=carrier_id))
            if with_parts:
                connection.execute(SmsMessagePart.__table__.insert().values(
                    message_id=message_id, gateway="vnpt", gateway_message_id=carrier_id, part=1))
    return list(ids)


def _states(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(  # type: ignore[misc]
            select(SmsMessage.state, SmsMessage.reason).order_by(SmsMessage.id)).all()]


def test_a_receipt_naming_its_message_is_applied_by_id(ctx: Callable[[], SmsContext], configure: Callable[..., Any],
                                                       migrated: Engine) -> None:
    # No carrier-id rows at all: only our id can find the messages.
    ids = _accepted(ctx, configure, migrated, ["C1", "C2"], with_parts=False)
    assert record_receipts(migrated, "vnpt", [Receipt("C1", "delivered", message_id=ids[0]),
                                              Receipt("C2", "failed", "absent subscriber", message_id=ids[1])]) == 2
    assert _states(migrated) == [("delivered", ""), ("failed", "absent subscriber")]


def test_a_wrong_hint_changes_nothing_and_the_carrier_id_still_finds_the_message(
        ctx: Callable[[], SmsContext], configure: Callable[..., Any], migrated: Engine) -> None:
    ids = _accepted(ctx, configure, migrated, ["C1", "C2"])
    # C1's receipt names the other message (a carrier's mistake, or an older carrier id of a resent message):
    # C2 must stay accepted, and C1 finds its own message through smsmessagepart.
    assert record_receipts(migrated, "vnpt", [Receipt("C1", "delivered", message_id=ids[1])]) == 1
    assert _states(migrated) == [("delivered", ""), ("accepted", "")]


def test_recent_carrier_ids_are_remembered_within_bounds() -> None:
    recent = RecentIds(limit=2)
    for n in range(5):
        recent.add(f"C{n}", n)
    assert recent.pop("C0") is None and recent.pop("C1") is None  # two generations of two: C2..C4 kept
    assert (recent.pop("C2"), recent.pop("C4"), recent.pop("C4")) == (2, 4, None)


def test_smpp_receipts_come_back_naming_the_message_the_session_submitted() -> None:
    smsc = LocalSmsc(engine="light").start()
    heard: list[Receipt] = []
    gateway = SmppGateway("viettel", "127.0.0.1", smsc.port, "cdc", "pw", on_receipts=lambda _, r: heard.extend(r))
    try:
        results = gateway.send([Outgoing(40 + n, f"+8498100000{n}", "Xin chao", "GSM-7", "CDC", 1) for n in range(3)])
        assert wait_until(lambda: len(heard) == 3, timeout=10)
        assert {r.gateway_message_id: r.message_id for r in heard} == {r.gateway_message_id: r.id for r in results}
    finally:
        gateway.close()
        smsc.stop()


def test_smpp_receipts_are_read_from_tlvs_and_from_the_standard_text() -> None:
    import smpp34

    from sms.gateways.smpp import parse_receipt

    def tlvs(carrier_id: str, state: int) -> list[Any]:
        return [smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, carrier_id.encode() + b"\0"),
                smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([state]))]

    text = b"id:C9 sub:001 dlvrd:000 submit date:2108101200 done date:2108101201 stat:UNDELIV err:034 text:"
    delivered = parse_receipt(b"id:C7 stat:DELIVRD err:000", tlvs("C7", 2), message_id_of={"C7": 70}.get)
    assert (delivered.gateway_message_id, delivered.status, delivered.error, delivered.message_id) == (
        "C7", "delivered", "", 70)
    failed = parse_receipt(text, tlvs("C9", 5))  # UNDELIVERABLE: the text adds the error
    assert (failed.gateway_message_id, failed.status, failed.error) == ("C9", "failed", "UNDELIV err:034")
    from_text = parse_receipt(text.replace(b"UNDELIV", b"DELIVRD"), [])
    assert (from_text.gateway_message_id, from_text.status, from_text.message_id) == ("C9", "delivered", None)
    assert parse_receipt(b"hello", []) is None


def test_a_hint_no_message_could_have_is_ignored(ctx: Callable[[], SmsContext], configure: Callable[..., Any],
                                                 migrated: Engine) -> None:
    """An id a carrier echoes back is its text: one beyond any database id (or not positive) must not
    break the statement that applies a whole slice of receipts; the carrier id still finds the message."""
    _accepted(ctx, configure, migrated, ["C1", "C2"])
    assert record_receipts(migrated, "vnpt", [Receipt("C1", "delivered", message_id=10**20),
                                              Receipt("C2", "delivered", message_id=-5)]) == 2
    assert _states(migrated) == [("delivered", ""), ("delivered", "")]


def test_a_message_accepted_twice_with_the_same_carrier_id_keeps_one_carrier_id_row(
        ctx: Callable[[], SmsContext], configure: Callable[..., Any], migrated: Engine) -> None:
    """Two workers on one message (the first slower than the lease): both get the carrier's answer, and a
    carrier that knows the message by our id gives the same id twice.  The second write must not fail."""
    import datetime as dt

    from sqlalchemy import func

    configure(SMS_GATEWAYS={"vnpt": {"kind": "sim"}}, SMS_ROUTES="default=vnpt")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345670")], Template("Hi", False), c.router)
    assert send_batch(c, summary.campaign_id, 0, 10**9).outcomes == {"accepted": 1}
    with migrated.begin() as connection:  # as if the second worker's claim had come before the first's answer
        connection.execute(SmsMessage.__table__.update().values(
            state="submitted", submitted_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    assert send_batch(c, summary.campaign_id, 0, 10**9).outcomes == {"accepted": 1}
    with migrated.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SmsMessagePart)).scalar() == 1
    assert _states(migrated) == [("delivered", "")]  # the simulator's second receipt found it (send_batch drains)


def test_receipts_wait_in_redis_in_any_of_their_formats() -> None:
    """Receipts as they wait in Redis: a batch queued at one time keeps one `seen`; batches put together
    (unmatched ones queued again) keep each receipt's own."""
    import json

    from sms.receipts import Receipts

    one = Receipts.of("vnpt", [Receipt("C1", "delivered", message_id=7), Receipt("C2", "failed", "absent")], 100.5)
    assert "seen1" in json.loads(one.encode())
    assert Receipts.decode(one.encode()) == one
    mixed = Receipts.of("vnpt", [Receipt("C3", "expired")], 200.25)
    mixed.extend(one)
    assert Receipts.decode(mixed.encode()).seen == [200.25, 100.5, 100.5]
    assert Receipts.decode(mixed.encode()) == mixed
    as_lists = json.dumps({"g": "vnpt", "id": ["C1"], "st": ["delivered"], "err": [""], "at": [5], "seen": [1.5],
                           "mid": [7]})  # each receipt's own `seen`, as a mixed batch is written
    assert Receipts.decode(as_lists) == Receipts("vnpt", ["C1"], ["delivered"], [""], [5], [1.5], [7])
