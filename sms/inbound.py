"""SMS people send us: STOP / TU CHOI opts the number out of calls and SMS; every message is kept.

Keywords are read without accents, case or extra spaces (``Từ chối``, ``tu  choi``,
``TUCHOI``, ``stop.`` all count).  A contact gets Contact.opted_out (the dialer
skips it at once) and every number goes to the opt-out table, so strangers are
covered too; campaigns consult both when loading and again just before sending.  ``KB`` (health declaration by SMS) is recorded as
such but the declaration dialogue itself is not built yet.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from robocall.logging_setup import mask_phone
from robocall.models import AuditLog, Contact, utcnow
from robocall.phones import InvalidPhone, normalize
from sms.models import SmsInbound, SmsOptOut
from sms.text import strip_accents

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


def handle_inbound(engine: Engine, gateway: str, phone: str, text: str) -> str:
    """Record an SMS from `phone` and act on its keyword; returns the action taken."""
    try:
        number = normalize(phone).e164
    except InvalidPhone:
        number = phone
    word = keyword(text)
    action = "opt_out" if word in OPT_OUT_WORDS else "declaration_requested" if word in DECLARATION_WORDS else "none"
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(insert(SmsInbound).values(phone=number, text=text[:1000], gateway=gateway, action=action,
                                                     received_at=now))
        if action == "opt_out":
            contact_ids = connection.execute(update(Contact).where(Contact.phone == number).values(
                opted_out=True, opted_out_at=now, updated_at=now).returning(Contact.id)).scalars().all()
            if connection.execute(select(SmsOptOut.phone).where(SmsOptOut.phone == number)).first() is None:
                connection.execute(insert(SmsOptOut).values(phone=number, at=now, source=f"sms {word}"))
            connection.execute(insert(AuditLog).values(
                at=now, actor="sms", action="opt_out", object_type="contact" if contact_ids else "phone",
                object_id=str(contact_ids[0]) if contact_ids else mask_phone(number), detail={"keyword": word}))
    log.info("SMS from %s: %s", mask_phone(number), action)
    return action
