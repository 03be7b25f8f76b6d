"""SMS people send us: STOP / TU CHOI opts out, KB starts a health declaration by SMS; every message is kept.

Keywords are read without accents, case or extra spaces (``Từ chối``, ``tu  choi``,
``TUCHOI``, ``stop.`` all count).  A contact gets Contact.opted_out (the dialer
skips it at once) and every number goes to the opt-out table, so strangers are
covered too; campaigns consult both when loading and again just before sending.
No confirmation is sent: the person asked for no more messages.  ``Đúng`` ("right")
loses its accents to the letters of ``dừng`` ("stop"), so a first word starting with
``đ`` does not opt out.

``KB`` (``KB EN`` in English) starts a dialogue that asks the questions of the flow
SMS_DECLARATION_FLOW by SMS (robocall/conversations/sms_declaration.py); the person's next messages are
its answers until it ends.  STOP during a dialogue opts out and ends it; KB starts
it over; a dialogue past SMS_DECLARATION_TIMEOUT_MINUTES is closed before the new
message is read, so it never swallows a later STOP or KB.

:func:`handle_inbound` returns what it did (also kept in SmsInbound.action): ``opt_out``,
``none``, or a ``declaration_*`` action of robocall/conversations/sms_declaration.py.  Messages from one number
are handled one at a time (SQLite: the first write locks; PostgreSQL: the dialogue row is
locked), and the replies are queued once the message's transaction has committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.conversations import sms_declaration as declaration
from robocall.logging_setup import mask_phone
from robocall.models import AuditLog, Contact, utcnow
from robocall.phones import InvalidPhone, normalize
from robocall.sms_models import SmsInbound, SmsOptOut
from robocall.text import strip_accents

log = logging.getLogger(__name__)

OPT_OUT_WORDS = {"STOP", "TUCHOI", "HUY", "DUNG"}
DECLARATION_WORDS = {"KB"}


def keyword(text: str) -> str:
    """The first word(s) of a message as a keyword: ``Từ chối!`` -> ``TUCHOI``."""
    plain = re.sub(r"[^A-Z0-9 ]", " ", strip_accents(text).upper()).split()
    if not plain:
        return ""
    if len(plain) >= 2 and plain[0] + plain[1] in OPT_OUT_WORDS:
        return plain[0] + plain[1]
    return plain[0]


def is_opt_out(word: str, text: str) -> bool:
    """STOP / TU CHOI / HUY / DUNG; but ``Đúng`` (right) is not ``dừng`` (stop)."""
    first = text.strip().split()[0].lower() if text.strip() else ""
    return word in OPT_OUT_WORDS and not (word == "DUNG" and first.startswith("đ"))


def handle_inbound(engine: Engine, declarations: declaration.DeclarationRules, gateway: str, phone: str, text: str,
                   now: dt.datetime | None = None) -> str:
    """Record an SMS from `phone` (received at `now`, default: now) and act on it; returns the action taken."""
    try:
        number, reachable = normalize(phone).e164, True
    except InvalidPhone:
        number, reachable = phone, False
    now = now or utcnow()
    try:
        with DbSession(engine) as db:
            inbound = SmsInbound(phone=number, text=text[:1000], gateway=gateway, action="none", received_at=now)
            db.add(inbound)
            db.flush()  # first: on SQLite this takes the write lock, so one number's messages go one at a time
            inbound.action = _act(db, declarations, gateway, number, reachable, text, now)
            action = inbound.action
            db.commit()  # then the replies are queued (robocall/conversations/outbox.py)
    except Exception:  # a bug or a database error must not lose what the person wrote
        log.exception("SMS from %s could not be handled; kept with action 'error'", mask_phone(number))
        with DbSession(engine) as db:
            db.add(SmsInbound(phone=number, text=text[:1000], gateway=gateway, action="error", received_at=now))
            db.commit()
        return "error"
    log.info("SMS from %s: %s", mask_phone(number), action)
    return action


def _act(db: DbSession, rules: declaration.DeclarationRules, gateway: str, number: str, reachable: bool, text: str,
         now: dt.datetime) -> str:
    word = keyword(text)
    dialogue = declaration.open_dialogue(db, rules, number, now) if reachable else None
    if is_opt_out(word, text):
        _opt_out(db, number, word, now)
        if dialogue is not None:
            declaration.close(db, rules, dialogue, now, "opt_out")
        return "opt_out"
    if word in DECLARATION_WORDS:
        if not reachable:
            return declaration.UNAVAILABLE  # no number to answer to
        return declaration.start(db, rules, number, gateway, text, now, restart=dialogue)
    if dialogue is not None:
        return declaration.answer(db, rules, dialogue, text, now)
    return "none"


def _opt_out(db: DbSession, number: str, word: str, now: dt.datetime) -> None:
    contact_ids = db.exec(update(Contact).where(Contact.phone == number).values(
        opted_out=True, opted_out_at=now, updated_at=now).returning(Contact.id)).scalars().all()
    if db.exec(select(SmsOptOut.phone).where(SmsOptOut.phone == number)).first() is None:
        db.exec(insert(SmsOptOut).values(phone=number, at=now, source=f"sms {word}"))
    db.exec(insert(AuditLog).values(
        at=now, actor="sms", action="opt_out", object_type="contact" if contact_ids else "phone",
        object_id=str(contact_ids[0]) if contact_ids else mask_phone(number), detail={"keyword": word}))
