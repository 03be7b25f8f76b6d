"""A flow's SMS (`do: [..., sms]`) after a call: written with the call record to the person on the line
(the contact called, or the hotline caller's own number), in their language, and delivered by a real
worker through the simulated carrier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.config import get_settings
from robocall.conversations.call_handler import RecordingCallHandler
from robocall.flows.engine import Digits, HangUp, contact_fields
from robocall.flows.loader import load_flows
from robocall.models import CallAttempt, CallState, Contact
from robocall.sms_models import SmsMessage
from simulator.carriers import wait_until

DAY = dt.date(2021, 8, 12)
AT = dt.datetime(2021, 8, 12, 2, 0, tzinfo=dt.UTC)
URGENT = ["1", "1", "1", "2", "2", "2", "385#", "1", "2"]  # fever, cough, 38.5: rule trieu_chung_nang (sms)
ALL_FINE = ["1", "2", "2", "2", "2", "2", "365#", "1", "2"]


def call(engine: Engine, flow_name: str, phone: str, keys: list[str], contact: Contact | None = None) -> None:
    """One answered call, driven through the CallHandler interface as a telephony backend drives it."""
    flow = load_flows([get_settings().flows_dir])[0][flow_name]
    inbound = flow.spec.direction == "inbound"
    with DbSession(engine) as db:
        attempt = CallAttempt(contact_id=contact.id if contact else None, phone=phone, flow=flow.name, day=DAY,
                              direction="inbound" if inbound else "outbound", queued_at=AT,
                              state=CallState.ANSWERED if inbound else CallState.QUEUED)
        db.add(attempt)
        db.commit()
        assert attempt.id is not None
        attempt_id = attempt.id
    fields = (contact_fields(today=DAY) if contact is None or inbound else
              contact_fields(today=DAY, name=contact.name, exposure_date=contact.exposure_date))
    handler = RecordingCallHandler(engine, flow, attempt_id, contact.id if contact else None, fields,
                                   contact.language if contact else None, dialled_at=AT)
    at = AT + dt.timedelta(seconds=5)
    actions = handler.answered(at)
    for key in keys:
        if any(isinstance(a, HangUp) for a in actions):
            break
        at += dt.timedelta(seconds=5)
        actions = handler.event(Digits(key), at)
    handler.ended(CallState.COMPLETED, at)


def add_contact(engine: Engine, phone: str, name: str, language: str = "vi", opted_out: bool = False) -> Contact:
    with DbSession(engine) as db:
        contact = Contact(phone=phone, name=name, category="F1", language=language, opted_out=opted_out,
                          exposure_date=dt.date(2021, 8, 7))
        db.add(contact)
        db.commit()
        db.refresh(contact)
        db.expunge(contact)
        return contact


def sms_rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(select(SmsMessage.phone, SmsMessage.purpose, SmsMessage.state,
                                                            SmsMessage.text).order_by(SmsMessage.id))]


def test_a_rule_with_sms_texts_the_person_on_the_line_in_their_language(
        migrated: Engine, start_workers: Callable[..., Any]) -> None:
    start_workers(1)
    english = add_contact(migrated, "+84912345678", "Anna Lê", language="en")
    fine = add_contact(migrated, "+84912345679", "Bảo")
    stopped = add_contact(migrated, "+84981234567", "Cúc", opted_out=True)
    call(migrated, "f1_f2_followup", english.phone, URGENT, english)
    call(migrated, "f1_f2_followup", fine.phone, ALL_FINE, fine)  # no rule with sms fires: no SMS
    call(migrated, "f1_f2_followup", stopped.phone, URGENT, stopped)  # opted out: the call is recorded, no SMS
    call(migrated, "hotline", "+84901234567", ["1", "2", "2", "2", "1", "2", "375#"])  # a stranger, breathless

    expected = [
        ("+84912345678", "escalation",
         "The CDC has received the report of Anna Lê. A health worker will call you soon. If breathing is hard, call 115."),
        ("+84901234567", "escalation",
         "TTKSBT đã nhận khai báo y tế của quý vị. Cán bộ y tế sẽ liên hệ ngay. Nếu khó thở, gọi 115."),
    ]
    assert [(p, purpose, text) for p, purpose, _, text in sms_rows(migrated)] == expected
    assert wait_until(lambda: {state for _, _, state, _ in sms_rows(migrated)} == {"delivered"}, timeout=30), \
        sms_rows(migrated)
    with migrated.connect() as connection:  # every call was recorded, the opted-out one included
        assert connection.execute(select(CallAttempt.state).order_by(CallAttempt.id)).scalars().all() == [
            "completed"] * 4
