"""What staff do on a case beyond its status: the caller's number, making the caller a contact,
editing a contact's details, scheduling callbacks, bulk actions, the home-visit worksheet.
Shared by the pages and the JSON API; every function takes the user's `Scope`, so a case or
contact of another district is "not found" wherever it is asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.call_policy import CallPolicy
from robocall.campaigns.callbacks import (
    CallbackError,
    cancel_task,
    case_phone,
    contact_from_case,
    finish_staff_call,
    schedule_robot_call,
    schedule_staff_call,
)
from robocall.config import Settings
from robocall.logging_setup import mask_phone
from robocall.models import (
    Answer,
    CallAttempt,
    CaseTask,
    CaseTaskKind,
    Contact,
    Escalation,
    stored_utc,
    utcnow,
)
from robocall.phones import InvalidPhone, normalize
from robocall.text import bilingual
from robocall.web.escalation_actions import ActionDone, ActionError, act_on_escalation, staff_user
from robocall.web.escalation_queries import UNRESOLVED
from robocall.web.scope import Scope

DETAILS = ("name", "address", "district", "commune", "birth_year", "notes", "alt_phone")


def outbound_flows(flows: Mapping[str, Any]) -> list[str]:
    """The flows a robot callback may use: an inbound flow (the hotline) expects the caller to start."""
    return sorted(name for name, flow in flows.items() if flow.spec.direction != "inbound")


class NotInScope(LookupError):
    """No such case or contact, or one of a district the user does not cover (the same answer: 404)."""


class CaseworkError(ValueError):
    """Bad input, naming the field (Vietnamese first)."""


def scoped_case(db: DbSession, escalation_id: int, scope: Scope) -> tuple[Escalation, Contact | None]:
    escalation = db.get(Escalation, escalation_id)
    if escalation is None:
        raise NotInScope(escalation_id)
    contact = db.get(Contact, escalation.contact_id) if escalation.contact_id else None
    if not scope.allows(contact):
        raise NotInScope(escalation_id)
    return escalation, contact


def scoped_contact(db: DbSession, contact_id: int, scope: Scope) -> Contact:
    contact = db.get(Contact, contact_id)
    if contact is None or not scope.allows(contact):
        raise NotInScope(contact_id)
    return contact


def reveal_case_phone(db: DbSession, escalation_id: int, scope: Scope) -> tuple[str, int | None]:
    """(the full number, its contact id if any): the person's, else the number that called or texted."""
    escalation, contact = scoped_case(db, escalation_id, scope)
    return case_phone(db, escalation), contact.id if contact else None


def masked_case_phone(db: DbSession, escalation: Escalation) -> str:
    phone = case_phone(db, escalation)
    return mask_phone(phone) if phone else ""


def parse_details(form: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """The contact fields present in `form`, checked: a bad one names itself."""
    details: dict[str, Any] = {}
    for name in DETAILS:
        if name not in form:
            continue
        value = str(form.get(name) or "").strip()
        if name == "birth_year":
            if not value:
                details[name] = None
                continue
            if not value.isdigit() or not 1900 <= int(value) <= dt.date.today().year:
                raise CaseworkError(f"năm sinh không hợp lệ / birth_year: not a year: {value!r}")
            details[name] = int(value)
        elif name == "alt_phone" and value:
            try:
                details[name] = normalize(value).e164
            except InvalidPhone as error:
                raise CaseworkError(bilingual(f"số điện thoại khác không hợp lệ: {error.vi}",
                                              f"alt_phone: {error.en}")) from None
        else:
            details[name] = value
    if not scope.province and "district" in details and details["district"] not in scope.districts:
        raise CaseworkError(f"huyện ngoài phạm vi của bạn / district outside your scope: {details['district']!r}")
    return details


def make_contact(db: DbSession, escalation_id: int, form: Mapping[str, Any], scope: Scope) -> Contact:
    """The caller of a case becomes a contact with the details given (category `other`)."""
    escalation, contact = scoped_case(db, escalation_id, scope)
    if contact is not None:
        raise CaseworkError("trường hợp đã có người liên hệ / the case already has a contact")
    details = parse_details(form, scope)
    try:
        made = contact_from_case(db, escalation, details)
    except CallbackError as error:
        raise CaseworkError(str(error)) from None
    db.commit()
    db.refresh(made)
    return made


def edit_contact(db: DbSession, contact_id: int, form: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """Change a contact's details; returns {field: [before, after]} of what changed (for the audit)."""
    contact = scoped_contact(db, contact_id, scope)
    changes = {}
    for name, value in parse_details(form, scope).items():
        before = getattr(contact, name)
        if before != value:
            changes[name] = [before, value]
            setattr(contact, name, value)
    if changes:
        contact.updated_at = utcnow()
        db.add(contact)
        db.commit()
    return changes


def parse_due(text: str, settings: Settings) -> dt.datetime:
    """A local `YYYY-MM-DDTHH:MM` (an <input type=datetime-local>) as UTC."""
    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CaseworkError(f"giờ hẹn không hợp lệ / due: not a date and time: {text!r}") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=settings.tzinfo)
    return local.astimezone(dt.UTC)


def schedule(db: DbSession, escalation_id: int, form: Mapping[str, Any], actor: str, scope: Scope,
             settings: Settings, policy: CallPolicy, flows: set[str]) -> CaseTask:
    """Schedule the callback a form or JSON body asks for: kind robot_call (flow, due) or staff_call
    (due, assignee: a user's id or name)."""
    escalation, _ = scoped_case(db, escalation_id, scope)
    kind = str(form.get("kind", ""))
    due = parse_due(str(form.get("due", "")), settings)
    now = utcnow()
    try:
        if kind == CaseTaskKind.ROBOT_CALL:
            task = schedule_robot_call(db, escalation, str(form.get("flow", "")), due, actor, policy, flows, now)
        elif kind == CaseTaskKind.STAFF_CALL:
            assignee = staff_user(db, form.get("assignee"), escalation) or actor
            task = schedule_staff_call(db, escalation, due, assignee, actor, settings.tzinfo, now)
        else:
            raise CaseworkError(f"chọn loại gọi lại / kind: robot_call or staff_call, not {kind!r}")
    except (CallbackError, ActionError) as error:
        db.rollback()
        raise CaseworkError(str(error)) from None
    db.commit()
    db.refresh(task)
    return task


def finish_task(db: DbSession, escalation_id: int, task_id: int, result: str, actor: str, scope: Scope) -> CaseTask:
    scoped_case(db, escalation_id, scope)
    task = db.get(CaseTask, task_id)
    if task is None or task.escalation_id != escalation_id or task.kind != CaseTaskKind.STAFF_CALL:
        raise NotInScope(task_id)
    try:
        finish_staff_call(db, task, result, actor, utcnow())
    except CallbackError as error:
        raise CaseworkError(str(error)) from None
    db.commit()
    db.refresh(task)
    return task


def cancel(db: DbSession, escalation_id: int, task_id: int, actor: str, scope: Scope) -> CaseTask:
    scoped_case(db, escalation_id, scope)
    task = db.get(CaseTask, task_id)
    if task is None or task.escalation_id != escalation_id:
        raise NotInScope(task_id)
    try:
        cancel_task(db, task, actor, utcnow())
    except CallbackError as error:
        raise CaseworkError(str(error)) from None
    db.commit()
    db.refresh(task)
    return task


def act_in_scope(db: DbSession, escalation_id: int, action: str, actor: str, form: Mapping[str, Any],
                 scope: Scope) -> ActionDone:
    escalation, _ = scoped_case(db, escalation_id, scope)
    return act_on_escalation(db, escalation, action, actor, form)


def bulk_act(db: DbSession, ids: list[int], action: str, actor: str, form: Mapping[str, Any],
             scope: Scope) -> list[ActionDone]:
    """One action on several cases (each in its own transaction: one refusal does not undo the others).
    An assignee who does not see every ticked case's district refuses the whole batch, before any change."""
    if action == "assign":
        for escalation_id in ids:
            try:
                escalation, _ = scoped_case(db, escalation_id, scope)
            except NotInScope:
                continue  # reported below with the others
            try:
                staff_user(db, form.get("assignee"), escalation)
            except ActionError as error:
                raise CaseworkError(f"#{escalation_id}: {error}") from None
    done = []
    for escalation_id in ids:
        try:
            done.append(act_in_scope(db, escalation_id, action, actor, form, scope))
        except NotInScope:
            done.append(ActionDone(escalation_id, None, error="không tìm thấy / not found"))
    return done


# --- the home-visit worksheet ----------------------------------------------------------------------


@dataclass
class VisitRow:
    escalation_id: int
    contact_id: int
    name: str
    birth_year: int | None
    address: str
    phone_masked: str
    reason: str
    created_at: dt.datetime
    answers: list[tuple[str, Any]]  # the answers of the call that raised the case (none for silence)
    notes: str


def home_visits(db: DbSession, scope: Scope, district: str, commune: str) -> list[VisitRow]:
    """Open home-visit cases of a commune (or all the user sees), by address, with what triggered them."""
    query = (select(Escalation, Contact).join(Contact, col(Contact.id) == Escalation.contact_id)
             .where(Escalation.level == "home_visit", col(Escalation.status).in_(UNRESOLVED),
                    *scope.contact_condition()))
    if district:
        query = query.where(Contact.district == district)
    if commune:
        query = query.where(Contact.commune == commune)
    found = db.exec(query.order_by(Contact.commune, Contact.address, Contact.name)).all()
    # The calls behind the visits and their answers, a few queries for the whole sheet (it was two a row).
    last = _last_answered(db, [contact.id or 0 for escalation, contact in found if not escalation.attempt_id])
    attempt_of = {escalation.id: escalation.attempt_id or last.get(contact.id or 0) for escalation, contact in found}
    answers: dict[int, list[Answer]] = {}
    for chunk in _chunks(sorted({a for a in attempt_of.values() if a})):
        for answer in db.exec(select(Answer).where(col(Answer.attempt_id).in_(chunk)).order_by(col(Answer.id))).all():
            answers.setdefault(answer.attempt_id, []).append(answer)
    rows = []
    for escalation, contact in found:
        given = answers.get(attempt_of[escalation.id] or 0, [])
        rows.append(VisitRow(escalation.id or 0, contact.id or 0, contact.name, contact.birth_year, contact.address,
                             mask_phone(contact.phone), escalation.reason, escalation.created_at,
                             [(a.question, a.value) for a in given], contact.notes))
    return rows


_CHUNK = 5_000  # ids in one IN (...): well under SQLite's limit of bound parameters


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _last_answered(db: DbSession, contact_ids: list[int]) -> dict[int, int]:
    """A silence case has no call of its own: the last answered call of each contact tells the team what to
    expect.  {contact id: attempt id}."""
    last: dict[int, tuple[dt.datetime, int]] = {}
    for chunk in _chunks(sorted(set(contact_ids))):
        for contact_id, attempt_id, answered in db.exec(
                select(CallAttempt.contact_id, CallAttempt.id, CallAttempt.answered_at)
                .where(col(CallAttempt.contact_id).in_(chunk), col(CallAttempt.answered_at).is_not(None))).all():
            when = stored_utc(answered)
            if contact_id is not None and attempt_id is not None and (
                    contact_id not in last or (when, attempt_id) > last[contact_id]):
                last[contact_id] = (when, attempt_id)
    return {contact_id: attempt_id for contact_id, (_, attempt_id) in last.items()}
