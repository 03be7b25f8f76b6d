"""What CDC staff do to an escalation; each action writes the escalation, a timeline event and
nothing else (the caller audits).  Shared by the HTML forms and the JSON API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.accounts import User
from robocall.campaigns.callbacks import cancel_pending
from robocall.inputs import NAME_MAX, NOTE_MAX
from robocall.models import Contact, Escalation, EscalationEvent, EscalationStatus, utcnow
from robocall.web.i18n import OUTCOMES
from robocall.web.scope import Scope

ACTIONS = ("acknowledge", "assign", "note", "resolve", "reopen")
BULK_ACTIONS = ("acknowledge", "assign", "resolve")


class ActionError(ValueError):
    """The action cannot be applied (unknown action, missing field, case already resolved); `field`
    names the input at fault when one is (the API returns it)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def apply_action(db: DbSession, escalation: Escalation, action: str, actor: str, now: dt.datetime,
                 *, assignee: str = "", text: str = "", outcome: str = "") -> EscalationEvent:
    if action not in ACTIONS:
        raise ActionError(f"unknown action {action!r}")
    if escalation.status == EscalationStatus.RESOLVED and action not in {"note", "reopen"}:
        raise ActionError("trường hợp đã đóng / this escalation is already resolved")
    if action == "reopen" and escalation.status != EscalationStatus.RESOLVED:
        raise ActionError("trường hợp chưa đóng / this escalation is not resolved")
    assert escalation.id is not None
    text, assignee = text.strip(), assignee.strip()
    if len(text) > NOTE_MAX or len(assignee) > NAME_MAX:  # the pages' forms too; the API's model says the same
        raise ActionError(f"ghi chú tối đa {NOTE_MAX} ký tự, người nhận {NAME_MAX} / "
                          f"a note has at most {NOTE_MAX} characters, an assignee {NAME_MAX}")
    if action in {"acknowledge", "assign", "resolve"} and escalation.status == EscalationStatus.OPEN:
        # Assigning or resolving a case someone has not acknowledged acknowledges it too.
        escalation.status = EscalationStatus.ACKNOWLEDGED
        escalation.acknowledged_at = now
        if action != "acknowledge":
            db.add(EscalationEvent(escalation_id=escalation.id, at=now, actor=actor, kind="acknowledged"))
    if action == "assign":
        assignee = assignee.strip() or actor
        escalation.assignee = assignee
        text = assignee + (f": {text}" if text else "")
    elif action == "note" and not text:
        raise ActionError("the note is empty")
    elif action == "reopen":
        # Back in the queue as acknowledged: someone took it on before, and the SLA clock is for new cases.
        escalation.status, escalation.outcome, escalation.resolved_at = EscalationStatus.ACKNOWLEDGED, "", None
    elif action == "resolve":
        if outcome not in OUTCOMES:
            raise ActionError(f"choose an outcome: {', '.join(OUTCOMES)}")
        escalation.status = EscalationStatus.RESOLVED
        escalation.outcome = outcome
        escalation.resolved_at = now
        # A closed case calls nobody back: its pending robot calls are no longer dialled.
        cancel_pending(db, escalation.id, actor, now, "trường hợp đã đóng")
        text = outcome + (f": {text}" if text else "")
    kind = {"acknowledge": "acknowledged", "assign": "assigned", "resolve": "resolved",
            "reopen": "reopened"}.get(action, action)
    event = EscalationEvent(escalation_id=escalation.id, at=now, actor=actor, kind=kind, text=text)
    db.add(escalation)
    db.add(event)
    db.commit()
    db.refresh(event)
    return event


class ActionDone(NamedTuple):
    """What the audit records of an action: the event it wrote, or why it was refused."""
    escalation_id: int | None
    contact_id: int | None
    status: str = ""  # the escalation's, after the action
    event_id: int | None = None
    kind: str = ""
    text: str = ""
    error: str | None = None
    field: str = ""  # the input at fault, when the refusal is about one


def act_on_escalation(db: DbSession, escalation: Escalation, action: str, actor: str,
                      form: Mapping[str, Any]) -> ActionDone:
    """Apply `action` with the fields of a form or JSON body (read before the commit expires the row)."""
    escalation_id, contact_id = escalation.id, escalation.contact_id
    try:
        assignee = staff_user(db, form.get("assignee"), escalation) if action == "assign" else ""
        event = apply_action(db, escalation, action, actor, utcnow(), assignee=assignee or actor,
                             text=str(form.get("text", "")), outcome=str(form.get("outcome", "")))
    except ActionError as error:
        return ActionDone(escalation_id, contact_id, error=str(error), field=error.field)
    return ActionDone(escalation_id, contact_id, escalation.status, event.id, event.kind, event.text)


def staff_user(db: DbSession, asked: Any, case: Escalation | None = None) -> str:
    """The user name of an active account given by id or by name (empty: nobody named).  With a `case`,
    the account must see that case's district: a district officer is never handed another district's
    case (nor a case with no contact yet, the province's alone)."""
    text = str(asked if asked is not None else "").strip()
    if not text:
        return ""
    query = select(User).where(User.active == True)  # noqa: E712
    query = query.where(User.id == int(text)) if text.isdigit() else query.where(User.username == text)
    user = db.exec(query).first()
    if user is None:
        raise ActionError(f"không có người dùng đang hoạt động '{text}' / assignee: no active user {text!r}",
                          "assignee")
    if case is not None:
        district = case_district(db, case)
        if not Scope.parse(user.districts).covers(district):
            where = f"huyện '{district}'" if district is not None else "trường hợp chưa có hồ sơ"
            where_en = f"district {district!r}" if district is not None else "cases without a contact"
            raise ActionError(f"người được giao không phụ trách {where} / assignee: {user.username!r} does not "
                              f"cover {where_en}", "assignee")
    return user.username


def case_district(db: DbSession, case: Escalation) -> str | None:
    """The district of a case's person; None for a case with no contact yet."""
    contact = db.get(Contact, case.contact_id) if case.contact_id else None
    return contact.district if contact is not None else None


def assignable_usernames(db: DbSession, districts: Iterable[str | None]) -> list[str]:
    """The active accounts that see every one of `districts` (None: a case with no contact): those
    offered when assigning these cases, alone or ticked together."""
    wanted = set(districts)
    users = db.exec(select(User.username, User.districts).where(User.active == True)  # noqa: E712
                    .order_by(User.username)).all()
    return [name for name, covered in users if all(Scope.parse(covered).covers(d) for d in wanted)]
