"""Hotline calls, whichever backend carries them (Asterisk, Twilio, the simulator): who is calling,
and the calls nobody took up.

* The caller: the contact with the calling number; an unknown number becomes a contact of
  category `other` (its `source_list` names the hotline number dialled), so whatever the call
  raises (a fever, a callback) is a case about a person staff can act on.  A withheld caller id
  stays anonymous.
* A missed call: refused before the menu (that person is on another call, every channel is busy,
  the call service is full) or abandoned before the first answer (the caller hung up during the
  greeting, or it was never answered) opens, or joins, the person's `missed_hotline_call` case of
  level `callback`: staff call back within the callback SLA (ESCALATION_SLA), inside the call window.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.conversations.recording import CallRecord, open_or_join_case
from robocall.flows.engine import Escalate
from robocall.logging_setup import mask_phone
from robocall.models import CallAttempt, CallState, Category, Contact
from robocall.phones import normalize

log = logging.getLogger(__name__)

MISSED_CALL = Escalate(
    rule="missed_hotline_call", level="callback", notify_cdc=True, callback=True,
    reason="Cuộc gọi nhỡ tới đường dây nóng: đề nghị gọi lại",
)
HOTLINE_SOURCE = "hotline"


def hotline_caller(db: DbSession, phone: str, line: str = "") -> Contact | None:
    """The contact calling from `phone` (E.164) to the hotline number `line`; created, committed, as
    category `other` when the number is not known.  None for a withheld or unreadable caller id."""
    if not phone:
        return None
    known = db.exec(select(Contact).where(Contact.phone == phone)).first()
    if known is not None:
        return known
    try:  # "anonymous", "client:...", a withheld number: nobody to add
        number = normalize(phone, require_mobile=False)
    except ValueError:
        return None
    if number.e164 != phone:
        return None
    contact = Contact(phone=phone, category=Category.OTHER, carrier=number.carrier,
                      source_list=f"{HOTLINE_SOURCE} {line}".strip() if line and line != "s" else HOTLINE_SOURCE)
    try:
        with db.begin_nested():  # two calls from one new number at once: the unique phone refuses the second
            db.add(contact)
            db.flush()
    except IntegrityError:
        return db.exec(select(Contact).where(Contact.phone == phone)).one()
    db.commit()
    log.info("hotline caller %s is not a known contact: added as category other", mask_phone(phone))
    return contact


def refuse_call(db: DbSession, contact: Contact | None, phone: str, flow: str, at: dt.datetime, timezone: ZoneInfo,
                reason: str, backend: str = "", call_id: str = "") -> int:
    """A hotline call refused before the menu: written as a `busy` inbound attempt with a callback
    case, committed; returns the attempt id."""
    busy = CallAttempt(contact_id=contact.id if contact else None, phone=phone, flow=flow, direction="inbound",
                       day=at.astimezone(timezone).date(), state=CallState.BUSY, queued_at=at, dialled_at=at,
                       ended_at=at, end_reason=reason, **({"backend": backend} if backend else {}),
                       backend_call_id=call_id)
    db.add(busy)
    db.flush()
    assert busy.id is not None
    open_or_join_case(db, busy.contact_id, busy.id, flow, MISSED_CALL, at)
    db.commit()
    log.info("hotline call from %s refused (%s): callback case", mask_phone(phone), reason)
    return busy.id


def missed(attempt: CallAttempt, record: CallRecord) -> bool:
    """A hotline call nobody took up: never answered, or the caller hung up before a single answer."""
    return attempt.answered_at is None or (attempt.end_reason == "caller_hangup" and not record.answers)


def after_hotline_call(db: DbSession, saved: CallAttempt, record: CallRecord, flow: str, at: dt.datetime) -> None:
    """In the transaction that writes a closed hotline call: a missed call becomes a callback case."""
    if missed(saved, record):
        open_or_join_case(db, saved.contact_id, saved.id, flow, MISSED_CALL, at)
