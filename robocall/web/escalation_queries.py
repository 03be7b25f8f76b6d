"""Reading escalations for the queue and the detail page (shared by the HTML pages and the API)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Integer, func, literal_column
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.config import Settings
from robocall.labels import LEVEL_ORDER, level_rank
from robocall.logging_setup import mask_phone
from robocall.models import (
    Answer,
    CallAttempt,
    CaseTask,
    CaseTaskState,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
    level_rank_sql,
    stored_utc,
)
from robocall.web.paging import Cursor, Ordering, Page, keyset_page, read_cursor
from robocall.web.params import MAX_PAGE, day_of
from robocall.web.scope import WHOLE_PROVINCE, Scope

UNRESOLVED = (EscalationStatus.OPEN.value, EscalationStatus.ACKNOWLEDGED.value)
PAGE_SIZE = 100
MAX_PAGES = 20  # "load more" shows at most this many pages together; beyond that, the pager


def _level_rank() -> Any:
    """The level's place in LEVEL_ORDER (unknown levels after), as SQL: the expression of the indexes
    ix_escalation_queue_* (migration 0018), so either database walks one instead of sorting the cases."""
    return literal_column(level_rank_sql("escalation.level"), Integer)


# The unresolved cases, with literals: the condition of the partial index ix_escalation_queue_unresolved
# (SQLite uses a partial index only when the query's own condition implies it, never through parameters).
_UNRESOLVED = col(Escalation.status).in_([literal_column(f"'{s}'") for s in UNRESOLVED])


# The queue's three orders, each ending with the id so a page boundary never falls inside a tie: most
# urgent then oldest (the default), newest first, oldest first.
QUEUE_ORDERS = {
    "level": Ordering("queue_level", (_level_rank(), col(Escalation.created_at), col(Escalation.id)),
                      (int, dt.datetime, int)),
    "newest": Ordering("queue_newest", (col(Escalation.created_at), col(Escalation.id)), (dt.datetime, int),
                       descending=True),
    "oldest": Ordering("queue_oldest", (col(Escalation.created_at), col(Escalation.id)), (dt.datetime, int)),
}


def _key(sort: str, escalation: Escalation) -> tuple[Any, ...]:
    """A row's place in the `sort` order, as its cursor carries it."""
    created = aware(escalation.created_at)
    rest = (created, escalation.id or 0)
    if sort != "level":
        return rest
    rank = LEVEL_ORDER.index(escalation.level) if escalation.level in LEVEL_ORDER else len(LEVEL_ORDER)
    return (rank, *rest)


@dataclass
class QueueFilters:
    district: str = ""
    commune: str = ""
    category: str = ""
    level: str = ""
    status: str = "unresolved"  # open, acknowledged, resolved, unresolved or all
    sort: str = "level"  # level (most urgent, then oldest), newest or oldest
    assignee: str = ""  # a user name: "my cases" is the viewer's own
    since: str = ""  # local days (YYYY-MM-DD) the case was flagged in, both ends included
    until: str = ""
    cursor: Cursor | None = None  # where the page starts (robocall/web/paging.py); None: at the top
    pages: int = 1  # how many pages from `cursor` on are shown together ("load more" adds one)
    per_page: int = PAGE_SIZE  # the API's `limit`; the HTML queue shows fewer so a phone is not a 30,000 px scroll

    @classmethod
    def from_query(cls, query: Any, per_page: int = PAGE_SIZE) -> QueueFilters:
        """The filters a query string asks for; a bad `cursor` is a 400 naming it, a bad day a ValueError."""
        pages = min(MAX_PAGES, _positive(query.get("pages", 1)))
        for name in ("since", "until"):
            day_of(query.get(name), name)
        sort = query.get("sort", "level") or "level"
        sort = sort if sort in QUEUE_ORDERS else "level"
        return cls(district=query.get("district", ""), commune=query.get("commune", ""),
                   category=query.get("category", ""), level=query.get("level", ""),
                   status=query.get("status", "unresolved") or "unresolved",
                   sort=sort, assignee=query.get("assignee", ""),
                   since=query.get("since", ""), until=query.get("until", ""),
                   cursor=read_cursor(query.get("cursor"), QUEUE_ORDERS[sort]), pages=pages, per_page=per_page)

    def as_query(self) -> dict[str, str]:
        """The filters alone (no position): what a link to the same queue keeps."""
        return {k: str(v) for k, v in self.__dict__.items() if v and k not in {"cursor", "pages", "per_page"}}


def _positive(value: Any) -> int:
    """A count of pages from the query string; anything that is not one means one."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


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
    next_due: dt.datetime | None = None  # the earliest callback still to make
    next_kind: str = ""

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("created_at", "acknowledged_at", "next_due"):
            data[name] = data[name].isoformat() if data[name] else None
        return data


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    filters: QueueFilters
    page: Page[QueueRow]  # its number and the cursors of the pages before and after it
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


def escalation_queue(db: DbSession, filters: QueueFilters, settings: Settings, now: dt.datetime,
                     scope: Scope = WHOLE_PROVINCE) -> QueuePage:
    query = (select(Escalation, Contact, CallAttempt.phone)
             .join(Contact, col(Contact.id) == Escalation.contact_id, isouter=True)
             .join(CallAttempt, col(CallAttempt.id) == Escalation.attempt_id, isouter=True))
    conditions = scope.contact_condition()
    if filters.status == "unresolved":
        conditions.append(_UNRESOLVED)
    elif filters.status != "all":
        conditions.append(Escalation.status == filters.status)
    if filters.level:
        conditions.append(Escalation.level == filters.level)
    for name in ("district", "commune", "category"):
        value = getattr(filters, name)
        if value:
            conditions.append(getattr(Contact, name) == value)
    if filters.assignee:
        conditions.append(Escalation.assignee == filters.assignee)
    tz = settings.tzinfo
    if filters.since:
        start = dt.datetime.combine(dt.date.fromisoformat(filters.since), dt.time(), tz)
        conditions.append(col(Escalation.created_at) >= start.astimezone(dt.UTC))
    if filters.until:
        end = dt.datetime.combine(dt.date.fromisoformat(filters.until) + dt.timedelta(days=1), dt.time(), tz)
        conditions.append(col(Escalation.created_at) < end.astimezone(dt.UTC))
    total = db.exec(select(func.count()).select_from(Escalation).join(
        Contact, col(Contact.id) == Escalation.contact_id, isouter=True).where(*conditions)).one()

    ordering, cursor = QUEUE_ORDERS[filters.sort], filters.cursor
    # SQLite seeks by a row value only over plain columns: for the urgency order the rank alone bounds the
    # walk too (from the cursor's level on), and the row value then skips within that level.
    bound = [] if cursor is None or filters.sort != "level" else [
        ordering.columns[0] <= cursor.key[0] if cursor.backward else ordering.columns[0] >= cursor.key[0]]

    def fetch(after: Any, order: list[Any], limit: int) -> list[Any]:
        return list(db.exec(query.where(*conditions, *([] if after is None else [after, *bound]))
                            .order_by(*order).limit(limit)).all())

    # "Load more" shows `pages` pages from the cursor on: one keyset read of that many rows.
    found = keyset_page(fetch, ordering, lambda r: _key(filters.sort, r[0]), cursor, filters.per_page * filters.pages)
    if found.next is not None:  # the page after the ones shown
        found.next = replace(found.next, page=min(found.number + filters.pages, MAX_PAGE))
    due = next_tasks(db, [e.id for e, _, _ in found.rows if e.id is not None])
    rows = [queue_row(escalation, contact, settings, now, phone or "", due.get(escalation.id or 0))
            for escalation, contact, phone in found.rows]
    found.total = total
    return QueuePage(rows=rows, total=total, filters=filters, page=found.with_rows(rows),
                     options=filter_options(db, scope), summary=level_summary(db, settings, now, scope))


def next_tasks(db: DbSession, escalation_ids: list[int]) -> dict[int, CaseTask]:
    """The earliest pending callback of each case."""
    tasks: dict[int, CaseTask] = {}
    # Sorted here, not by the database: an ORDER BY due_at made SQLite walk the whole due_at index
    # instead of looking the cases up by escalation_id.
    found = db.exec(select(CaseTask).where(col(CaseTask.escalation_id).in_(escalation_ids),
                                           CaseTask.state == CaseTaskState.PENDING)).all()
    for task in sorted(found, key=lambda t: (stored_utc(t.due_at), t.id or 0)):
        tasks.setdefault(task.escalation_id, task)
    return tasks


def queue_row(escalation: Escalation, contact: Contact | None, settings: Settings, now: dt.datetime,
              line_phone: str = "", task: CaseTask | None = None) -> QueueRow:
    """`line_phone`: the number that called or texted, shown (masked) when the case has no contact."""
    created = aware(escalation.created_at)
    assert created is not None and escalation.id is not None
    age = max(0, int((now - created).total_seconds() // 60))
    sla = settings.sla_minutes(escalation.level)
    return QueueRow(
        id=escalation.id, level=escalation.level, rule=escalation.rule, reason=escalation.reason,
        status=escalation.status, assignee=escalation.assignee, created_at=created,
        acknowledged_at=aware(escalation.acknowledged_at), contact_id=escalation.contact_id,
        name=contact.name if contact else "",
        phone_masked=mask_phone(contact.phone) if contact else (mask_phone(line_phone) if line_phone else ""),
        category=contact.category if contact else "", district=contact.district if contact else "",
        commune=contact.commune if contact else "", age_minutes=age, sla_minutes=sla,
        sla_state=sla_state(escalation.status, age, sla),
        next_due=aware(task.due_at) if task else None, next_kind=task.kind if task else "",
    )


@dataclass
class LevelSummary:
    level: str
    unresolved: int
    overdue: int  # open (nobody acknowledged) past the level's SLA


def level_summary(db: DbSession, settings: Settings, now: dt.datetime,
                  scope: Scope = WHOLE_PROVINCE) -> list[LevelSummary]:
    """Per level: cases not resolved, and how many nobody has acknowledged within the SLA."""
    # Grouped by status too: (status, level) is the order of ix_escalation_status_level_created, so the
    # unresolved cases are read along it; grouped by level alone, SQLite walked the whole level index.
    joined = select(Escalation.level, func.count()).join(Contact, col(Contact.id) == Escalation.contact_id,
                                                          isouter=True)
    counts: dict[str, int] = {}
    for level, count in db.exec(joined.where(col(Escalation.status).in_(UNRESOLVED), *scope.contact_condition())
                                .group_by(Escalation.status, Escalation.level)).all():
        counts[level] = counts.get(level, 0) + count
    summary = []
    for level in sorted(counts, key=level_rank):
        deadline = now - dt.timedelta(minutes=settings.sla_minutes(level))
        overdue = db.exec(select(func.count()).select_from(Escalation).join(
            Contact, col(Contact.id) == Escalation.contact_id, isouter=True).where(
            Escalation.level == level, Escalation.status == EscalationStatus.OPEN,
            col(Escalation.created_at) <= deadline, *scope.contact_condition())).one()
        summary.append(LevelSummary(level, counts[level], overdue))
    return summary


def filter_options(db: DbSession, scope: Scope = WHOLE_PROVINCE) -> dict[str, list[str]]:
    levels = distinct_values(db, col(Escalation.level))
    levels.sort(key=level_rank)
    options = {}
    for column in (col(Contact.district), col(Contact.commune), col(Contact.category)):
        if scope.province:
            options[column.key] = distinct_values(db, column)
        else:  # a district officer's: district by district, along (district, column)
            found = {v for d in scope.districts for v in distinct_values(db, column, col(Contact.district) == d)}
            options[column.key] = sorted(found)
    return {**options, "level": levels}


def distinct_values(db: DbSession, column: Any, *conditions: Any) -> list[str]:
    """The distinct non-empty values of an indexed column, in order, one index probe per value (a "loose
    index scan": the next value is the least one above the last).  SELECT DISTINCT read every entry of the
    index: a million contacts for nine districts, on every queue page."""
    first = select(func.min(column).label("v")).where(*conditions).cte("found", recursive=True)
    following = select(func.min(column)).where(column > first.c.v, *conditions).scalar_subquery()
    found = first.union_all(select(following).select_from(first).where(first.c.v.is_not(None)))
    return sorted(v for v in db.exec(select(found.c.v).where(found.c.v.is_not(None))).all() if v)


def latest_change(db: DbSession, scope: Scope = WHOLE_PROVINCE) -> tuple[int, int]:
    """(newest escalation id, newest timeline event id) of the cases `scope` sees: the live queue
    reloads when either grows (a district officer is not told about another district's cases)."""
    if scope.province:
        return (db.exec(select(func.max(Escalation.id))).one() or 0,
                db.exec(select(func.max(EscalationEvent.id))).one() or 0)
    cases = select(Escalation.id).join(Contact, col(Contact.id) == Escalation.contact_id).where(
        *scope.contact_condition())
    return (db.exec(select(func.max(Escalation.id)).where(col(Escalation.id).in_(cases))).one() or 0,
            db.exec(select(func.max(EscalationEvent.id)).where(
                col(EscalationEvent.escalation_id).in_(cases))).one() or 0)


@dataclass
class CallDay:
    day: dt.date
    attempts: list[tuple[CallAttempt, list[Answer]]]


def case_tasks(db: DbSession, escalation_id: int) -> list[CaseTask]:
    return list(db.exec(select(CaseTask).where(CaseTask.escalation_id == escalation_id)
                        .order_by(col(CaseTask.due_at), col(CaseTask.id))).all())


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
