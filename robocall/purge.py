"""Data lifecycle: personal data of people whose follow-up ended before a day is removed, in batches.

What goes, and what stays for the reports (docs/deploy.md, "Retention"):

- contacts whose monitoring ended before the day, with no case still unresolved: the number, name,
  address, notes, second number and birth year are cleared (the number becomes `purged:<id>`, so the
  row stays unique); category, district, commune and dates stay, so past reports still count them;
- their call attempts lose the number and the flow session (which holds the answers); their answers
  are deleted; their cases (escalations) stay, with level, rule, status and times, so case counts do
  not change, but the staff's notes on the timeline are cleared; their SMS dialogues lose number,
  session and answers;
- SMS queued before the day (a broadcast list holds people who are not contacts, so the cut for SMS
  is the message's age) lose number (`purged:<id>`) and text; inbound SMS received before it lose
  number and text; the numbers a campaign created before it could not use are cleared.
  Opt-outs stay: a person who said STOP must not be written to again.

Each batch is one transaction (a crash leaves whole batches done, and a new run picks up the rest:
purged rows no longer match).  One audit row records the run and its counts.  SMS are walked along
their key in ranges, never scanned whole (the table has no other index, robocall/sms_models.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields

from sqlalchemy import String, and_, cast, delete, func, literal, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from robocall.models import (
    Answer,
    AuditLog,
    CallAttempt,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
    utcnow,
)
from robocall.sms_models import SmsCampaign, SmsDialogue, SmsInbound, SmsInvalidRecipient, SmsMessage

PURGED = "purged:"
CONTACT_BATCH = 500
SMS_ID_RANGE = 20_000


@dataclass
class PurgeSummary:
    contacts: int = 0
    call_attempts: int = 0
    answers: int = 0
    escalations_kept: int = 0
    escalation_notes: int = 0
    sms_dialogues: int = 0
    sms_messages: int = 0
    sms_inbound: int = 0
    sms_invalid_numbers: int = 0

    def add(self, other: PurgeSummary) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _start_of(day: dt.date) -> dt.datetime:
    """Times are stored in UTC; a day is cut at its UTC start (a few hours either way do not matter here)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _due_contacts(connection: Connection, before: dt.date, after_id: int, limit: int) -> list[int]:
    unresolved = select(col(Escalation.id)).where(col(Escalation.contact_id) == col(Contact.id),
                                                  col(Escalation.status) != EscalationStatus.RESOLVED)
    return [int(found) for found in connection.execute(
        select(col(Contact.id)).where(col(Contact.monitoring_end) < before, col(Contact.id) > after_id,
                                      ~col(Contact.phone).startswith(PURGED), ~unresolved.exists())
        .order_by(col(Contact.id)).limit(limit)).scalars() if found is not None]


def _count(connection: Connection, statement: object) -> int:
    return int(connection.execute(statement).scalar() or 0)  # type: ignore[call-overload]


def _contacts_batch(connection: Connection, ids: list[int], dry_run: bool) -> PurgeSummary:
    done = PurgeSummary(contacts=len(ids))
    cases = select(col(Escalation.id)).where(col(Escalation.contact_id).in_(ids))
    attempts_ = col(CallAttempt.contact_id).in_(ids)
    answers_ = col(Answer.contact_id).in_(ids)
    notes_ = and_(col(EscalationEvent.escalation_id).in_(cases), col(EscalationEvent.text) != "")
    dialogues_ = col(SmsDialogue.contact_id).in_(ids)
    done.escalations_kept = _count(connection, select(func.count()).select_from(cases.subquery()))
    if dry_run:
        done.call_attempts = _count(connection, select(func.count()).where(attempts_))
        done.answers = _count(connection, select(func.count()).where(answers_))
        done.escalation_notes = _count(connection, select(func.count()).where(notes_))
        done.sms_dialogues = _count(connection, select(func.count()).where(dialogues_))
        return done
    done.answers = connection.execute(delete(Answer).where(answers_)).rowcount
    done.call_attempts = connection.execute(update(CallAttempt).where(attempts_).values(phone="", session=None)).rowcount
    done.escalation_notes = connection.execute(update(EscalationEvent).where(notes_).values(text="")).rowcount
    done.sms_dialogues = connection.execute(
        update(SmsDialogue).where(dialogues_).values(
            phone=literal(PURGED) + cast(col(SmsDialogue.id), String), session={}, answers={})).rowcount
    connection.execute(update(Contact).where(col(Contact.id).in_(ids)).values(
        phone=literal(PURGED) + cast(col(Contact.id), String), name="", address="", notes="", alt_phone="",
        birth_year=None, updated_at=utcnow()))
    return done


def _sms_messages(engine: Engine, cut: dt.datetime, dry_run: bool) -> int:
    """Walk the messages by id from the oldest: ids grow with time, so the walk stops at the first range
    with no message queued before the cut."""
    with engine.connect() as connection:
        low, high = connection.execute(select(func.min(col(SmsMessage.id)), func.max(col(SmsMessage.id)))).one()
    if low is None or high is None:
        return 0
    total, start, high = 0, int(low), int(high)
    id_ = col(SmsMessage.id)
    while start <= high:
        in_range = and_(id_ >= start, id_ < start + SMS_ID_RANGE)
        old = and_(in_range, col(SmsMessage.queued_at) < cut)
        due = and_(old, ~col(SmsMessage.phone).startswith(PURGED))
        with engine.begin() as connection:
            if not _count(connection, select(func.count()).where(old)):
                break
            if dry_run:
                total += _count(connection, select(func.count()).where(due))
            else:
                total += connection.execute(update(SmsMessage).where(due).values(
                    phone=literal(PURGED) + cast(id_, String), text=None)).rowcount
        start += SMS_ID_RANGE
    return total


def _sms_rest(connection: Connection, cut: dt.datetime, dry_run: bool) -> tuple[int, int]:
    inbound = and_(col(SmsInbound.received_at) < cut, col(SmsInbound.phone) != "")
    old_campaigns = select(col(SmsCampaign.id)).where(col(SmsCampaign.created_at) < cut)
    invalid = and_(col(SmsInvalidRecipient.campaign_id).in_(old_campaigns), col(SmsInvalidRecipient.value) != "")
    if dry_run:
        return (_count(connection, select(func.count()).where(inbound)),
                _count(connection, select(func.count()).where(invalid)))
    return (connection.execute(update(SmsInbound).where(inbound).values(phone="", text="")).rowcount,
            connection.execute(update(SmsInvalidRecipient).where(invalid).values(value="")).rowcount)


def purge(engine: Engine, before: dt.date, *, dry_run: bool = False, actor: str = "cli",
          batch: int = CONTACT_BATCH) -> PurgeSummary:
    """Remove the personal data of follow-ups that ended before `before` (see the module's text);
    with `dry_run`, count what would go and change nothing.  Returns the counts; audited unless dry."""
    summary = PurgeSummary()
    last_id = 0
    while True:
        with engine.begin() as connection:
            ids = _due_contacts(connection, before, last_id, batch)
            if not ids:
                break
            summary.add(_contacts_batch(connection, ids, dry_run))
        last_id = ids[-1]
    cut = _start_of(before)
    summary.sms_messages = _sms_messages(engine, cut, dry_run)
    with engine.begin() as connection:
        summary.sms_inbound, summary.sms_invalid_numbers = _sms_rest(connection, cut, dry_run)
        if not dry_run:
            connection.execute(AuditLog.__table__.insert().values(  # type: ignore[attr-defined]
                at=utcnow(), actor=actor, action="purge", object_type="retention", object_id=before.isoformat(),
                detail={"before": before.isoformat(), **asdict(summary)}))
    return summary


def unresolved_cases_kept(engine: Engine, before: dt.date) -> int:
    """People whose follow-up ended before `before` but who still have a case open: kept until it is resolved."""
    unresolved = select(col(Escalation.id)).where(col(Escalation.contact_id) == col(Contact.id),
                                                  col(Escalation.status) != EscalationStatus.RESOLVED)
    with engine.connect() as connection:
        return _count(connection, select(func.count()).where(
            col(Contact.monitoring_end) < before, ~col(Contact.phone).startswith(PURGED), unresolved.exists()))


__all__ = ["PURGED", "PurgeSummary", "purge", "unresolved_cases_kept"]
