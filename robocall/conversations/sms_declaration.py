"""Health declaration by SMS: ``KB`` starts a dialogue that asks the flow's own questions, one SMS at a time.

The same pure flow engine as on the phone (robocall.flows.engine) runs the flow named by
SMS_DECLARATION_FLOW (default ``hotline``, the citizens' line, whose branch 1 is the health
declaration), so a question, its retries and its escalation rules are written once, in YAML.

- Start: ``KB`` (any case or accents); ``KB EN`` for English when the flow has it, otherwise the
  contact's language, otherwise the flow's first.  SMS_DECLARATION_KEYS (default ``1``) are fed to
  the flow first to pass its voice menu; what the robot says before the last of them (the greeting
  and the menu) is for the phone and is not sent.
- Each turn: the reply is read as keys (robocall/conversations/sms_keypad.py: ``1``, ``có``, ``37.5``, ``05/08``...), the
  engine steps, and the texts it says up to its next question make one reply SMS (robocall/conversations/outbox.py),
  to the sender, through the route of their number.  A reply that is not an answer gets the flow's
  own "invalid" message and the question again, up to the flow's retries; then its ``give_up``.
- Between messages the session waits in ``smsdialogue`` as JSON, with the answers so far; one open
  dialogue per number.
- End: when the flow ends; after SMS_DECLARATION_TIMEOUT_MINUTES without a reply, as a hang-up
  (on the phone silence repeats the question, but by SMS nobody is on the line to hear it); at
  STOP / TU CHOI (the opt-out applies at once); at a new ``KB`` (it starts over).  Ending writes a
  CallAttempt with channel ``sms`` (direction inbound), its answers, escalations and the flow's SMS
  with robocall/conversations/recording.py, exactly as a hotline call is written, so the dashboard
  shows both the same way.
- A number that opted out gets no dialogue (nothing can be sent to it).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.config import Settings
from robocall.conversations.outbox import Purpose, opted_out, send_sms
from robocall.conversations.recording import CallRecord, save_record
from robocall.conversations.sms_keypad import candidates
from robocall.db import dialect_insert
from robocall.flows.catalog import flow_catalog
from robocall.flows.engine import (
    Action,
    Answered,
    Digits,
    Hangup,
    Say,
    Session,
    accepts,
    advance,
    contact_fields,
    new_session,
)
from robocall.flows.loader import Flow
from robocall.logging_setup import mask_phone
from robocall.models import CallAttempt, CallState, Contact, stored_utc, utcnow
from robocall.sms_models import DialogueStatus, SmsDialogue
from robocall.text import strip_accents

log = logging.getLogger(__name__)

# What handle_inbound reports for a message of a dialogue.
STARTED = "declaration_started"
ANSWER = "declaration_answer"
COMPLETED = "declaration_completed"
OPTED_OUT = "declaration_opted_out"  # KB from a number that said STOP: nothing can be sent to it
UNAVAILABLE = "declaration_unavailable"  # the flow is not loaded, or SMS_DECLARATION_KEYS do not fit it
DUPLICATE = "declaration_duplicate"  # a second KB in the same instant: the first one's dialogue goes on
NOT_AN_ANSWER = "?"  # keys no question takes: the engine answers with its "invalid" message


@dataclass(frozen=True)
class DeclarationRules:
    """How declarations by SMS run here: built once at the edge (the SMS context, the web app) from the settings."""

    flows: Mapping[str, Flow]  # every loaded flow: a dialogue goes on with the flow it started with
    flow_name: str  # SMS_DECLARATION_FLOW: what a new KB starts
    keys: tuple[str, ...]  # SMS_DECLARATION_KEYS: fed to the flow first, through its voice menu
    timeout: dt.timedelta  # SMS_DECLARATION_TIMEOUT_MINUTES without a reply ends a dialogue as a hang-up
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> DeclarationRules:
        return cls(flow_catalog(settings).flows, settings.sms_declaration_flow, settings.sms_declaration_keys,
                   dt.timedelta(minutes=settings.sms_declaration_timeout_minutes), settings.tzinfo)

    def start_flow(self) -> Flow | None:
        """The flow a new KB starts; None (logged) when it is not loaded."""
        flow = self.flows.get(self.flow_name)
        if flow is None:
            log.error("SMS_DECLARATION_FLOW=%s is not a loaded flow (flows check shows why)", self.flow_name)
        return flow


# --- one message -----------------------------------------------------------------------------------


def open_dialogue(db: DbSession, rules: DeclarationRules, phone: str, now: dt.datetime) -> SmsDialogue | None:
    """The number's open dialogue, locked for this transaction.  One past its time is closed first
    (recorded as a hang-up) and None returned, so it never swallows the message that follows."""
    dialogue = db.exec(select(SmsDialogue).where(SmsDialogue.phone == phone, SmsDialogue.status == DialogueStatus.OPEN)
                       .with_for_update()).first()
    if dialogue is not None and _expires_at(dialogue, rules) <= now:
        close(db, rules, dialogue, _expires_at(dialogue, rules), "expired")
        return None
    return dialogue


def start(db: DbSession, rules: DeclarationRules, phone: str, gateway: str, text: str, now: dt.datetime,
          restart: SmsDialogue | None = None) -> str:
    """``KB`` from `phone` (E.164): ask the first question.  An open dialogue starts over."""
    flow = rules.start_flow()
    if flow is None:
        return UNAVAILABLE
    if opted_out(db, phone):
        return OPTED_OUT
    if restart is not None:
        close(db, rules, restart, now, "restart")
    contact = db.exec(select(Contact).where(Contact.phone == phone)).first()
    today = now.astimezone(rules.tz).date()
    session = new_session(flow, _fields(contact, today), _language(text, flow, contact))
    record = CallRecord()
    session, actions = advance(flow, session, Answered())
    record.collect(actions, now)
    for key in rules.keys:  # through the voice menu: what it said there is not sent
        if not accepts(flow, session, key):
            log.error("SMS_DECLARATION_KEYS: %r is not an answer at node %r of flow %s", key, session.node, flow.name)
            return UNAVAILABLE
        session, actions = advance(flow, session, Digits(key))
        record.collect(actions, now)
    dialogue_id = db.exec(dialect_insert(db.get_bind(), SmsDialogue).values(
        phone=phone, contact_id=contact.id if contact else None, flow=flow.name, gateway=gateway,
        status=DialogueStatus.OPEN, session=session.to_json(), answers=record.answers_json(), replies=0,
        started_at=now, last_at=now, closed_by="",
    ).on_conflict_do_nothing(index_elements=["phone"], index_where=SmsDialogue.status == DialogueStatus.OPEN)
        .returning(SmsDialogue.id)).scalar()
    if dialogue_id is None:
        return DUPLICATE
    dialogue = db.get(SmsDialogue, dialogue_id)
    assert dialogue is not None
    _after_turn(db, dialogue, flow, session, record, actions, now, "flow")
    return COMPLETED if session.ended else STARTED


def answer(db: DbSession, rules: DeclarationRules, dialogue: SmsDialogue, text: str, now: dt.datetime) -> str:
    """A reply within an open dialogue: the answer to the question it waits at."""
    flow = rules.flows.get(dialogue.flow)
    if flow is None:
        _end_unrecorded(db, dialogue, now)
        return UNAVAILABLE
    session = Session.from_json(dialogue.session)
    record = CallRecord.from_answers_json(dialogue.answers)
    session, actions = advance(flow, session, Digits(read_reply(flow, session, text)))
    record.collect(actions, now)
    dialogue.replies += 1
    dialogue.last_at = now
    _after_turn(db, dialogue, flow, session, record, actions, now, "flow")
    return COMPLETED if session.ended else ANSWER


def read_reply(flow: Flow, session: Session, text: str) -> str:
    """The keys `text` stands for at the current question: the first reading the engine accepts."""
    if session.node is None:
        return NOT_AN_ANSWER
    options = candidates(flow.spec.nodes[session.node], text)
    for keys in options:
        if accepts(flow, session, keys):
            return keys
    return options[0] if options else NOT_AN_ANSWER


def close(db: DbSession, rules: DeclarationRules, dialogue: SmsDialogue, at: dt.datetime, closed_by: str) -> None:
    """End an open dialogue as a hang-up at `at`: the answers given are recorded and the rules checked."""
    flow = rules.flows.get(dialogue.flow)
    if flow is None:
        _end_unrecorded(db, dialogue, at)
        return
    session, actions = advance(flow, Session.from_json(dialogue.session), Hangup())
    record = CallRecord.from_answers_json(dialogue.answers)
    record.collect(actions, at)
    _finish(db, dialogue, flow, session, record, at, closed_by)


def expire_dialogues(engine: Engine, rules: DeclarationRules, now: dt.datetime | None = None) -> int:
    """Close every dialogue past its time (run by `robocall sms run`); returns how many."""
    now = now or utcnow()
    with DbSession(engine) as db:
        ids = db.exec(select(SmsDialogue.id).where(SmsDialogue.status == DialogueStatus.OPEN,
                                                   SmsDialogue.last_at <= now - rules.timeout)).all()
    closed = 0
    for dialogue_id in ids:  # one transaction each: a reply arriving meanwhile wins (the row is locked)
        with DbSession(engine) as db:
            dialogue = db.exec(select(SmsDialogue).where(SmsDialogue.id == dialogue_id,
                                                         SmsDialogue.status == DialogueStatus.OPEN)
                               .with_for_update()).first()
            if dialogue is None or _expires_at(dialogue, rules) > now:
                continue
            close(db, rules, dialogue, _expires_at(dialogue, rules), "expired")
            db.commit()
            closed += 1
    return closed


# --- inside ------------------------------------------------------------------------------------------


def _after_turn(db: DbSession, dialogue: SmsDialogue, flow: Flow, session: Session, record: CallRecord,
                actions: list[Action], now: dt.datetime, closed_by: str) -> None:
    reply = " ".join(a.text.strip() for a in actions if isinstance(a, Say) and a.text.strip())
    if reply:  # before the flow's own SMS, which the end of the dialogue writes
        send_sms(db, dialogue.phone, reply, Purpose.DECLARATION, at=now)
    if session.ended:
        _finish(db, dialogue, flow, session, record, now, closed_by)
        return
    dialogue.session = session.to_json()
    dialogue.answers = record.answers_json()
    db.add(dialogue)


def _finish(db: DbSession, dialogue: SmsDialogue, flow: Flow, session: Session, record: CallRecord,
            at: dt.datetime, closed_by: str) -> None:
    """Write the dialogue as a hotline call is written: attempt, answers, escalations, the flow's SMS."""
    started = stored_utc(dialogue.started_at)
    attempt = CallAttempt(
        contact_id=dialogue.contact_id, phone=dialogue.phone, flow=flow.name, direction="inbound", channel="sms",
        day=dt.date.fromisoformat(session.fields["today"]), state=CallState.COMPLETED, backend=dialogue.gateway,
        backend_call_id=f"smsdialogue-{dialogue.id}", queued_at=started, dialled_at=started, answered_at=started,
        ended_at=at, end_reason=session.end_reason or "", session=session.to_json(),
    )
    db.add(attempt)
    db.flush()
    save_record(db, attempt, dialogue.contact_id, flow.name, record)
    dialogue.status, dialogue.ended_at, dialogue.closed_by = DialogueStatus.ENDED, at, closed_by
    dialogue.session, dialogue.answers, dialogue.attempt_id = session.to_json(), record.answers_json(), attempt.id
    db.add(dialogue)
    log.info("SMS declaration from %s ended (%s, %s): %d answers, %d escalations", mask_phone(dialogue.phone),
             closed_by, session.end_reason, len(record.answers), len(record.escalations))


def _end_unrecorded(db: DbSession, dialogue: SmsDialogue, at: dt.datetime) -> None:
    log.error("SMS declaration %s: flow %s is no longer loaded; ended without recording", dialogue.id, dialogue.flow)
    dialogue.status, dialogue.ended_at, dialogue.closed_by = DialogueStatus.ENDED, at, "flow_unavailable"
    db.add(dialogue)


def _expires_at(dialogue: SmsDialogue, rules: DeclarationRules) -> dt.datetime:
    return stored_utc(dialogue.last_at) + rules.timeout



def _language(text: str, flow: Flow, contact: Contact | None) -> str | None:
    """``KB EN`` asks for English; else the contact's language; else the flow's first (None)."""
    words = re.findall(r"[a-z0-9]+", strip_accents(text).lower())
    if len(words) >= 2 and words[1] in flow.spec.languages:
        return words[1]
    return contact.language if contact and contact.language in flow.spec.languages else None


def _fields(contact: Contact | None, today: dt.date) -> dict[str, object]:
    if contact is None:
        return contact_fields(today=today)
    return contact_fields(today=today, name=contact.name, category=contact.category, district=contact.district,
                          commune=contact.commune, exposure_date=contact.exposure_date, phone=contact.phone)
