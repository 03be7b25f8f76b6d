"""What the JSON API (/api/v1) accepts and answers, as pydantic models.

Request bodies are read with `robocall.inputs.parse` (400 naming the field); the OpenAPI document
(robocall/web/openapi.py) takes its schemas from these same models, so a fuzzer checking the answers
against the document checks them against what the code means.  Rows whose columns follow the
dashboard's queries are objects with their known fields typed; more fields may follow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from robocall.inputs import MAX_ID, NAME_MAX, NOTE_MAX, Strict


def _user_ref(value: Any) -> str | int:
    """A user's name or id, checked here whole so that a wrong one is named `assignee` (a union would name
    the member tried last)."""
    if isinstance(value, str) and len(value) <= NAME_MAX:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    raise ValueError(f"cần tên hoặc mã người dùng / a user's name (at most {NAME_MAX} characters) or id")


UserRef = Annotated[str | int, PlainValidator(_user_ref), WithJsonSchema({"anyOf": [
    {"type": "string", "maxLength": NAME_MAX}, {"type": "integer", "minimum": 1, "maximum": MAX_ID}]})]


class EscalationAction(Strict):
    """POST /api/v1/escalations/{id}/actions."""
    action: Literal["acknowledge", "assign", "note", "callback", "resolve", "reopen"]
    assignee: UserRef = ""  # assign; a staff call's callback
    text: str = Field("", max_length=NOTE_MAX)
    outcome: Literal["", "tested", "hospital", "home_isolation", "visited", "false_alarm", "unreachable", "other"] = ""
    # callback: a robot call of an outbound flow, or a staff call, due at a local time (YYYY-MM-DDTHH:MM)
    kind: Literal["", "robot_call", "staff_call"] = ""
    flow: str = Field("", max_length=NAME_MAX)
    due: str = Field("", max_length=32)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    error: str
    field: str | None = None


class SessionUser(_Open):
    id: int
    username: str
    role: str


class SessionInfo(BaseModel):
    user: SessionUser
    csrf_token: str


class QueueRow(_Open):
    id: int
    level: str
    status: str
    created_at: str
    acknowledged_at: str | None




class TimelineEntry(BaseModel):
    at: str | None
    actor: str
    kind: str
    text: str


class Attempt(BaseModel):
    id: int | None
    direction: str
    channel: str
    state: str
    end_reason: str | None
    queued_at: str | None
    answers: dict[str, Any]


class CallDay(BaseModel):
    day: str | None
    attempts: list[Attempt]


class EscalationDetail(BaseModel):
    escalation: QueueRow
    outcome: str | None
    flow: str | None
    timeline: list[TimelineEntry]
    calls: list[CallDay]


class ActionEvent(BaseModel):
    kind: str
    text: str


class ActionResult(BaseModel):
    status: str
    event: ActionEvent


class ListRow(_Open):
    contact_id: int
    name: str
    phone_masked: str
    category: str
    district: str
    commune: str
    exposure_date: str | None
    monitoring_end: str | None
    last_call_day: str | None
    last_call_state: str
    open_cases: int


class Paged(BaseModel):
    """A keyset page: send `next` (or `prev`) back as `cursor` for the following (previous) page; null when
    there is none.  `page` counts from 1 for reading."""
    page: int
    next: str | None
    prev: str | None


class Queue(Paged):
    total: int
    rows: list[QueueRow]


class LineList(Paged):
    list: str
    as_of: str
    total: int
    rows: list[ListRow]


class ContactResults(Paged):
    total: int
    rows: list[ListRow]


class Campaign(_Open):
    id: int
    name: str
    flow: str


class Campaigns(BaseModel):
    campaigns: list[Campaign]


class Report(_Open):
    period_from: str | None = None
    period_to: str | None = None
    districts: list[str] = Field(default_factory=list,
                                 description="the districts counted (a district officer's); empty: the whole province")


class AuditEntry(BaseModel):
    id: int | None
    at: str | None
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any] | None


class AuditEntries(Paged):
    entries: list[AuditEntry]
