"""The shared data model: contacts, campaigns, call attempts, answers, escalations, audit.

Times are timezone-aware UTC datetimes (sqlmodel refuses naive ones); dates that mean "a day in the province" (exposure date, follow-up
day) are local dates in the configured time zone.  The database is the source
of truth: every report figure is counted from these tables.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from robocall.labels import LEVEL_ORDER
from robocall.text import search_fold


class Category(StrEnum):
    F1 = "F1"
    F2 = "F2"
    RETURNEE = "returnee"
    OTHER = "other"


class CallState(StrEnum):
    QUEUED = "queued"
    DIALLING = "dialling"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"


# The end_reason of an attempt that failed for good: the provider says the number is invalid, or that
# calls to it are not allowed.  Trying the same number again cannot help, so the retry ladder stops
# (robocall/campaigns/dialer.py) and the report counts it apart, for staff to fix the contact.
PERMANENT_FAILURE = "permanent: "


def failed_for_good(end_reason: str | None) -> bool:
    return bool(end_reason) and str(end_reason).startswith(PERMANENT_FAILURE)


# A contact may have at most one call in these states at any moment (enforced by an index).
ACTIVE_CALL_STATES = (CallState.QUEUED, CallState.DIALLING, CallState.RINGING, CallState.ANSWERED)
_ACTIVE_CALL = "state IN (" + ", ".join(f"'{state.value}'" for state in ACTIVE_CALL_STATES) + ")"


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


FOLDED_TEXT = String().with_variant(String(collation="C"), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stored_utc(value: dt.datetime) -> dt.datetime:
    """A time read back from the database as aware UTC: SQLite hands back naive datetimes (raw selects
    included), and everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Contact(SQLModel, table=True):
    # The line lists' order (robocall/web/line_lists.py): a page starts at a row's key and reads on in
    # the index; its (district, commune) prefix also serves a district officer's filter choices
    # (robocall.web.escalation_queries.distinct_values), as (district, category) does for categories.
    __table_args__ = (Index("ix_contact_list_order", "district", "commune", "name", "id"),
                      Index("ix_contact_district_category", "district", "category"))

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(index=True, unique=True, description="E.164, e.g. +84912345678")
    name: str = ""
    # Compared byte by byte on PostgreSQL too ("C"), as on SQLite: the search's prefix range walks the index
    # whatever the database's locale (robocall/web/line_lists.py).
    name_folded: str = Field(default="", index=True, sa_type=FOLDED_TEXT,
                             description="the name as searched (robocall.text.search_fold), kept by contact_search_keys")
    given_folded: str = Field(default="", index=True, sa_type=FOLDED_TEXT,
                              description="the last word of name_folded: the given name people are called by")
    category: str = Field(default=Category.OTHER, index=True)
    district: str = Field(default="", index=True)
    commune: str = Field(default="", index=True)
    address: str = Field(default="", description="street address, for home visits")
    birth_year: int | None = None
    notes: str = Field(default="", description="free text from the list or from staff")
    alt_phone: str = Field(default="", description="a second number (E.164) the dialer may try")
    phone_kind: str = Field(default="mobile", description="mobile, landline (calls only, no SMS) or foreign "
                                                          "(called only when INTERNATIONAL_CALLS allows)")
    exposure_date: dt.date | None = Field(default=None, description="exposure (F1/F2) or return (returnee) date")
    monitoring_end: dt.date | None = Field(default=None, index=True)
    language: str = "vi"
    carrier: str = ""
    opted_out: bool = Field(default=False, index=True)
    opted_out_at: dt.datetime | None = None
    source_list: str = ""
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


def contact_search_keys(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a contact's columns) with what searches read derived from them: the one place both
    the ORM (below) and the bulk import (robocall.contacts.storage) fill `name_folded` from."""
    if "name" in values:
        folded = search_fold(values["name"] or "")
        values["name_folded"], values["given_folded"] = folded, folded.rpartition(" ")[2]
    return values


@event.listens_for(Contact, "before_insert")
@event.listens_for(Contact, "before_update")
def _contact_search_keys(_mapper: Any, _connection: Any, contact: Contact) -> None:
    keys = contact_search_keys({"name": contact.name})
    contact.name_folded, contact.given_folded = keys["name_folded"], keys["given_folded"]


class CallCampaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    flow: str = Field(description="flow name, e.g. f1_f2_followup")
    categories: str = Field(description="comma-separated contact categories this campaign calls")
    status: str = Field(default="active", description="active, paused or finished")
    created_at: dt.datetime = Field(default_factory=utcnow)


class CallAttempt(SQLModel, table=True):
    __table_args__ = (
        # The guarantee that no contact is called twice at once, whatever number of workers run:
        # the database refuses a second active attempt for the same contact.
        Index(
            "one_active_call_per_contact", "contact_id", unique=True,
            sqlite_where=text(_ACTIVE_CALL), postgresql_where=text(_ACTIVE_CALL),
        ),
        # A campaign's calls per day (the campaign page) from the index alone.  (No index on queued_at for the
        # report's period: SQLite, without range statistics, walked it for a period covering every call,
        # a million lookups instead of one pass.)
        Index("ix_callattempt_campaign_day_answered", "campaign_id", "day", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="callcampaign.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    phone: str = Field(default="", description="number dialled or calling in (E.164)")
    flow: str
    direction: str = Field(default="outbound", description="outbound or inbound")
    channel: str = Field(default="voice", description="voice (a phone call) or sms (a health declaration by SMS)")
    day: dt.date = Field(index=True, description="local follow-up day this attempt belongs to")
    attempt_number: int = 1
    state: str = Field(default=CallState.QUEUED, index=True)
    backend: str = "sim"
    backend_call_id: str = ""
    caller_id: str = ""
    queued_at: dt.datetime = Field(default_factory=utcnow, index=True)  # an outbound call's planned start
    dialled_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = Field(default=None, index=True)
    end_reason: str = ""
    session: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The follow-up that planned this call (a callback's has its own flow and case); none for hotline calls.
    follow_up_id: int | None = Field(default=None, index=True)
    # A queued outbound call is owned until `lease_until` (wall clock, UTC) by its dispatch number
    # `dispatch`: a worker dials it only by claiming that number, so a call handed out again after
    # its worker died (robocall/campaigns/recovery.py) is never dialled by two workers.
    lease_until: dt.datetime | None = None
    dispatch: int = 0


class Answer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("attempt_id", "question", name="one_answer_per_question_per_call"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="callattempt.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    question: str
    node: str
    value: Any = Field(default=None, sa_column=Column(JSON))
    keys: str = ""
    recorded_at: dt.datetime = Field(default_factory=utcnow)


def level_rank_sql(column: str = "level") -> str:
    """A level's place in LEVEL_ORDER (unknown levels after) as SQL: the queue's urgency order.  Written with
    literals: a query is served by the expression index below only when it has the very same expression
    (SQLite never matches a bound parameter there).  Laid out as PostgreSQL prints an index's expression, so
    that alembic's comparison of the models with the database (tests/test_migrations.py) finds them equal."""
    whens = "".join(f"    WHEN '{level}' THEN {i}\n" for i, level in enumerate(LEVEL_ORDER))
    return f"\nCASE {column}\n{whens}    ELSE {len(LEVEL_ORDER)}\nEND"


UNRESOLVED_SQL = "status IN ('open', 'acknowledged')"  # a partial index's condition: the queue's default view


class Escalation(SQLModel, table=True):
    # The queue's counts per level, its overdue cases and /metrics read the unresolved cases by this index.
    # The queue's pages walk the last two, in its order (most urgent, then oldest, migration 0018): the
    # unresolved cases (the default view) and every case.
    __table_args__ = (Index("ix_escalation_status_level_created", "status", "level", "created_at"),
                      Index("ix_escalation_assignee_status", "assignee", "status"),  # "my cases"
                      Index("ix_escalation_queue_order", text(f"({level_rank_sql()})"), "created_at", "id"),
                      Index("ix_escalation_queue_unresolved", text(f"({level_rank_sql()})"), "created_at", "id",
                            sqlite_where=text(UNRESOLVED_SQL), postgresql_where=text(UNRESOLVED_SQL)))

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="callattempt.id", index=True)
    flow: str = ""
    rule: str
    level: str = Field(index=True)
    reason: str
    notify_cdc: bool = True
    callback: bool = False
    status: str = Field(default=EscalationStatus.OPEN, index=True)
    assignee: str = ""
    outcome: str = ""
    created_at: dt.datetime = Field(default_factory=utcnow, index=True)
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


class EscalationEvent(SQLModel, table=True):
    """The timeline of an escalation: created, again (the rule fired on a later call), acknowledged,
    assigned, note, callback, resolved."""

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="callattempt.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor: str = "system"
    kind: str
    text: str = ""


class FollowUpState(StrEnum):
    PENDING = "pending"  # due at next_try_at
    CALLING = "calling"  # an attempt is out
    REACHED = "reached"  # a call was answered today
    UNREACHED = "unreached"  # no answer all day: non-reporting
    SKIPPED = "skipped"  # opted out before the call


_DAILY = "escalation_id IS NULL"


class FollowUp(SQLModel, table=True):
    """One contact's follow-up on one local day: attempts, the next try, and how the day ended.

    A robot callback staff schedule from a case is a follow-up too (`escalation_id` set, its own
    `flow`): the dialer calls it at its due time with the same window, pace and retries; only the
    daily follow-ups are one per contact and day.
    """

    __table_args__ = (
        Index("one_follow_up_per_contact_per_day", "contact_id", "day", unique=True,
              sqlite_where=text(_DAILY), postgresql_where=text(_DAILY)),
        # A campaign's progress (follow-ups by state) and period (first and last day): the campaign pages.
        Index("ix_followup_campaign_state", "campaign_id", "state"),
        Index("ix_followup_campaign_day", "campaign_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="callcampaign.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    day: dt.date = Field(index=True)
    state: str = Field(default=FollowUpState.PENDING, index=True)
    next_try_at: dt.datetime | None = Field(default=None, index=True)
    attempts: int = 0
    unreachable_streak: int = Field(default=0, description="days in a row without an answer, this one included")
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id", index=True,
                                      description="the case a callback was scheduled from; none for daily calls")
    flow: str = Field(default="", description="a callback's flow; empty: the campaign's")


class CaseTaskKind(StrEnum):
    ROBOT_CALL = "robot_call"  # the dialer calls with a chosen flow (a FollowUp carries it)
    STAFF_CALL = "staff_call"  # a person calls by a due time


class CaseTaskState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class CaseTask(SQLModel, table=True):
    """A callback scheduled on a case: a robot call or a staff call, due at a time."""

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    kind: str
    due_at: dt.datetime = Field(index=True)
    assignee: str = Field(default="", description="user name of the staff who calls (staff calls)")
    flow: str = ""
    follow_up_id: int | None = Field(default=None, index=True)
    state: str = Field(default=CaseTaskState.PENDING, index=True)
    result: str = ""
    created_by: str = ""
    created_at: dt.datetime = Field(default_factory=utcnow)
    done_at: dt.datetime | None = None


class AuditLog(SQLModel, table=True):
    # The audit page filtered by actor or action, newest first, without reading the whole log.
    __table_args__ = (Index("ix_auditlog_actor_id", "actor", "id"), Index("ix_auditlog_action_id", "action", "id"))

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, index=True)
    actor: str
    action: str
    object_type: str = ""
    object_id: str = ""
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
