"""Reading escalations for the queue and the detail page (shared by the HTML pages and the API)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.config import Settings
from robocall.logging_setup import mask_phone
from robocall.models import (
    Answer,
    CallAttempt,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
    stored_utc,
)

# Most urgent first when the queue is sorted by level; unknown levels go last.
LEVEL_ORDER = ("urgent", "test", "callback", "watch", "home_visit", "report")
UNRESOLVED = (EscalationStatus.OPEN.value, EscalationStatus.ACKNOWLEDGED.value)
PAGE_SIZE = 100


@dataclass
class QueueFilters:
    district: str = ""
    commune: str = ""
    category: str = ""
    level: str = ""
    status: str = "unresolved"  # open, acknowledged, resolved, unresolved or all
    sort: str = "level"  # level (most urgent, then oldest), newest or oldest
    page: int = 1

    @classmethod
    def from_query(cls, query: Any) -> QueueFilters:
        try:
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            page = 1
        return cls(district=query.get("district", ""), commune=query.get("commune", ""),
                   category=query.get("category", ""), level=query.get("level", ""),
                   status=query.get("status", "unresolved") or "unresolved",
                   sort=query.get("sort", "level") or "level", page=page)

    def as_query(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v and k != "page"}


@dataclass
class QueueRow:
    id: int
    level: str
    rule: str
    reason: str
    status: str
    assignee: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    contact_id: int | None
    name: str
    phone_masked: str
    category: str
    district: str
    commune: str
    age_minutes: int
    sla_minutes: int
    sla_state: str  # ok (acknowledged or resolved), green, amber, red

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        data["acknowledged_at"] = self.acknowledged_at.isoformat() if self.acknowledged_at else None
        return data


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    filters: QueueFilters
    options: dict[str, list[str]] = field(default_factory=dict)
    summary: list[LevelSummary] = field(default_factory=list)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return None if value is None else stored_utc(value)


def sla_state(status: str, age_minutes: int, sla_minutes: int) -> str:
    """Colour of the waiting time: only a case nobody has acknowledged can be late."""
    if status != EscalationStatus.OPEN:
        return "ok"
    if age_minutes >= sla_minutes:
        return "red"
    return "amber" if age_minutes * 2 >= sla_minutes else "green"


def _level_rank():  # type: ignore[no-untyped-def]
    return case({level: i for i, level in enumerate(LEVEL_ORDER)}, value=Escalation.level, else_=len(LEVEL_ORDER))


def escalation_queue(db: DbSession, filters: QueueFilters, settings: Settings, now: dt.datetime) -> QueuePage:
    query = select(Escalation, Contact).join(Contact, col(Contact.id) == Escalation.contact_id, isouter=True)
    conditions = []
    if filters.status == "unresolved":
        conditions.append(col(Escalation.status).in_(UNRESOLVED))
    elif filters.status != "all":
        conditions.append(Escalation.status == filters.status)
    if filters.level:
        conditions.append(Escalation.level == filters.level)
    for name in ("district", "commune", "category"):
        value = getattr(filters, name)
        if value:
            conditions.append(getattr(Contact, name) == value)
    total = db.exec(select(func.count()).select_from(Escalation).join(
        Contact, col(Contact.id) == Escalation.contact_id, isouter=True).where(*conditions)).one()
    if filters.sort == "newest":
        order = [col(Escalation.created_at).desc(), col(Escalation.id).desc()]
    elif filters.sort == "oldest":
        order = [col(Escalation.created_at), col(Escalation.id)]
    else:
        order = [_level_rank(), col(Escalation.created_at), col(Escalation.id)]
    found = db.exec(query.where(*conditions).order_by(*order)
                    .offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    rows = [queue_row(escalation, contact, settings, now) for escalation, contact in found]
    return QueuePage(rows=rows, total=total, filters=filters, options=filter_options(db),
                     summary=level_summary(db, settings, now))


def queue_row(escalation: Escalation, contact: Contact | None, settings: Settings, now: dt.datetime) -> QueueRow:
    created = aware(escalation.created_at)
    assert created is not None and escalation.id is not None
    age = max(0, int((now - created).total_seconds() // 60))
    sla = settings.sla_minutes(escalation.level)
    return QueueRow(
        id=escalation.id, level=escalation.level, rule=escalation.rule, reason=escalation.reason,
        status=escalation.status, assignee=escalation.assignee, created_at=created,
        acknowledged_at=aware(escalation.acknowledged_at), contact_id=escalation.contact_id,
        name=contact.name if contact else "", phone_masked=mask_phone(contact.phone) if contact else "",
        category=contact.category if contact else "", district=contact.district if contact else "",
        commune=contact.commune if contact else "", age_minutes=age, sla_minutes=sla,
        sla_state=sla_state(escalation.status, age, sla),
    )


@dataclass
class LevelSummary:
    level: str
    unresolved: int
    overdue: int  # open (nobody acknowledged) past the level's SLA


def level_summary(db: DbSession, settings: Settings, now: dt.datetime) -> list[LevelSummary]:
    """Per level: cases not resolved, and how many nobody has acknowledged within the SLA."""
    counts = dict(db.exec(select(Escalation.level, func.count()).where(col(Escalation.status).in_(UNRESOLVED))
                          .group_by(Escalation.level)).all())
    summary = []
    for level in sorted(counts, key=lambda lv: LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else len(LEVEL_ORDER)):
        deadline = now - dt.timedelta(minutes=settings.sla_minutes(level))
        overdue = db.exec(select(func.count()).select_from(Escalation).where(
            Escalation.level == level, Escalation.status == EscalationStatus.OPEN,
            col(Escalation.created_at) <= deadline)).one()
        summary.append(LevelSummary(level, counts[level], overdue))
    return summary


def filter_options(db: DbSession) -> dict[str, list[str]]:
    def distinct(column) -> list[str]:  # type: ignore[no-untyped-def]
        return [v for v in db.exec(select(column).distinct().order_by(column)).all() if v]
    levels = distinct(Escalation.level)
    levels.sort(key=lambda lv: LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else len(LEVEL_ORDER))
    return {"district": distinct(Contact.district), "commune": distinct(Contact.commune),
            "category": distinct(Contact.category), "level": levels}


def latest_change(db: DbSession) -> tuple[int, int]:
    """(newest escalation id, newest timeline event id): the live queue reloads when either grows."""
    return (db.exec(select(func.max(Escalation.id))).one() or 0,
            db.exec(select(func.max(EscalationEvent.id))).one() or 0)


@dataclass
class CallDay:
    day: dt.date
    attempts: list[tuple[CallAttempt, list[Answer]]]


def calls_by_day(db: DbSession, contact_id: int) -> list[CallDay]:
    """Every call to or from the person, newest day first, each with the answers given."""
    attempts = db.exec(select(CallAttempt).where(CallAttempt.contact_id == contact_id)
                       .order_by(col(CallAttempt.day).desc(), col(CallAttempt.queued_at))).all()
    answers: dict[int, list[Answer]] = defaultdict(list)
    for answer in db.exec(select(Answer).where(Answer.contact_id == contact_id).order_by(col(Answer.id))).all():
        answers[answer.attempt_id].append(answer)
    days: dict[dt.date, list[tuple[CallAttempt, list[Answer]]]] = {}
    for attempt in attempts:
        days.setdefault(attempt.day, []).append((attempt, answers.get(attempt.id or 0, [])))
    return [CallDay(day, items) for day, items in days.items()]


def escalation_calls(db: DbSession, escalation: Escalation, contact: Contact | None) -> list[CallDay]:
    """The calls shown with an escalation: all of the person's; for someone who is not a contact (a
    hotline caller, an SMS declaration), the call or SMS dialogue that raised it, with its answers."""
    if contact is not None and contact.id is not None:
        return calls_by_day(db, contact.id)
    attempt = db.get(CallAttempt, escalation.attempt_id) if escalation.attempt_id else None
    if attempt is None or attempt.id is None:
        return []
    answers = list(db.exec(select(Answer).where(Answer.attempt_id == attempt.id).order_by(col(Answer.id))).all())
    return [CallDay(attempt.day, [(attempt, answers)])]


def timeline(db: DbSession, escalation_id: int) -> list[EscalationEvent]:
    return list(db.exec(select(EscalationEvent).where(EscalationEvent.escalation_id == escalation_id)
                        .order_by(col(EscalationEvent.at), col(EscalationEvent.id))).all())


def person_escalations(db: DbSession, contact_id: int) -> list[Escalation]:
    return list(db.exec(select(Escalation).where(Escalation.contact_id == contact_id)
                        .order_by(col(Escalation.created_at).desc())).all())
