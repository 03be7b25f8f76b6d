"""Callbacks staff schedule from a case ("Đề nghị gọi lại"): a robot call with a chosen flow, which the
dialer places like any follow-up (due time, call window, pace, retries), or a staff call with a due
time and an assignee.  The robot call's answers join the case's timeline when the call is written.

Messages are Vietnamese: staff read them on the case page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.call_policy import CallPolicy
from robocall.labels import moment
from robocall.models import (
    Answer,
    CallAttempt,
    CallCampaign,
    CaseTask,
    CaseTaskKind,
    CaseTaskState,
    Category,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
    FollowUp,
    FollowUpState,
)

# The standing campaign robot callbacks are planned under (plan_day calls only `active` campaigns).
CALLBACK_CAMPAIGN = "Gọi lại theo yêu cầu"
STANDING = "standing"


class CallbackError(ValueError):
    """A callback cannot be scheduled as asked (message for the staff, in Vietnamese)."""


def case_phone(db: DbSession, escalation: Escalation) -> str:
    """The number of a case: its contact's, else the number that called or texted (the attempt's)."""
    if escalation.contact_id is not None:
        contact = db.get(Contact, escalation.contact_id)
        if contact is not None:
            return contact.phone
    attempt = db.get(CallAttempt, escalation.attempt_id) if escalation.attempt_id else None
    return attempt.phone if attempt is not None else ""


def contact_from_case(db: DbSession, escalation: Escalation, details: dict[str, Any]) -> Contact:
    """Turn the caller of a case without a contact into a contact (category `other`), or find the
    contact who already has that number; the caller's earlier hotline calls, their answers and cases
    are joined to it.  The caller commits."""
    if escalation.contact_id is not None:
        existing = db.get(Contact, escalation.contact_id)
        if existing is not None:
            return existing
    phone = case_phone(db, escalation)
    if not phone:
        raise CallbackError("trường hợp này không có số điện thoại")
    contact = db.exec(select(Contact).where(Contact.phone == phone)).first()
    if contact is None:
        contact = Contact(phone=phone, category=Category.OTHER, source_list="case")
    for name, value in details.items():
        if value not in ("", None) and getattr(contact, name) in ("", None):
            setattr(contact, name, value)  # what staff enter fills in, never overwrites what a list said
    db.add(contact)
    db.flush()
    attempts = list(db.exec(select(CallAttempt).where(CallAttempt.phone == phone,
                                                      col(CallAttempt.contact_id).is_(None))).all())
    ids = [a.id for a in attempts]
    for attempt in attempts:
        attempt.contact_id = contact.id
        db.add(attempt)
    for answer in db.exec(select(Answer).where(col(Answer.attempt_id).in_(ids), col(Answer.contact_id).is_(None))):
        answer.contact_id = contact.id
        db.add(answer)
    for case in db.exec(select(Escalation).where(col(Escalation.contact_id).is_(None),
                                                 col(Escalation.attempt_id).in_(ids))):
        case.contact_id = contact.id
        db.add(case)
    escalation.contact_id = contact.id
    db.add(escalation)
    return contact


def _callback_campaign(db: DbSession, flow: str) -> CallCampaign:
    campaign = db.exec(select(CallCampaign).where(CallCampaign.name == CALLBACK_CAMPAIGN,
                                                  CallCampaign.status == STANDING)).first()
    if campaign is None:
        campaign = CallCampaign(name=CALLBACK_CAMPAIGN, flow=flow, categories="", status=STANDING)
        db.add(campaign)
        db.flush()
    return campaign


def _check_open(escalation: Escalation) -> None:
    if escalation.status == EscalationStatus.RESOLVED:
        raise CallbackError("trường hợp đã đóng: mở lại trước khi hẹn gọi")


def schedule_robot_call(db: DbSession, escalation: Escalation, flow: str, due_at: dt.datetime, actor: str,
                        policy: CallPolicy, flows: set[str], now: dt.datetime) -> CaseTask:
    """A robot call of `flow` to the case's person at `due_at` (inside the call window); the caller commits."""
    _check_open(escalation)
    if flow not in flows:
        raise CallbackError(f"không có kịch bản '{flow}'")
    if due_at < now - dt.timedelta(minutes=5):
        raise CallbackError("giờ hẹn gọi đã qua")
    if not policy.in_window(due_at):
        window = policy.window
        raise CallbackError(f"giờ hẹn gọi phải trong khung giờ gọi {window.start:%H:%M}-{window.end:%H:%M}")
    contact = contact_from_case(db, escalation, {})
    if contact.opted_out:
        raise CallbackError("người này đã từ chối nhận cuộc gọi")
    campaign = _callback_campaign(db, flow)
    assert campaign.id is not None and contact.id is not None and escalation.id is not None
    follow_up = FollowUp(campaign_id=campaign.id, contact_id=contact.id, day=policy.local_day(due_at),
                         next_try_at=due_at, escalation_id=escalation.id, flow=flow)
    db.add(follow_up)
    db.flush()
    task = CaseTask(escalation_id=escalation.id, kind=CaseTaskKind.ROBOT_CALL, due_at=due_at, flow=flow,
                    follow_up_id=follow_up.id, created_by=actor, created_at=now)
    return _add_task(db, escalation, task, actor, now, f"{flow} @ {moment(due_at, 'vi', policy.tz)}")


def schedule_staff_call(db: DbSession, escalation: Escalation, due_at: dt.datetime, assignee: str, actor: str,
                        tz: Any, now: dt.datetime) -> CaseTask:
    """A call a staff member makes by `due_at` (the assignee checked by the caller); the caller commits."""
    _check_open(escalation)
    assert escalation.id is not None
    task = CaseTask(escalation_id=escalation.id, kind=CaseTaskKind.STAFF_CALL, due_at=due_at, assignee=assignee,
                    created_by=actor, created_at=now)
    return _add_task(db, escalation, task, actor, now, f"{assignee} @ {moment(due_at, 'vi', tz)}")


def _add_task(db: DbSession, escalation: Escalation, task: CaseTask, actor: str, now: dt.datetime,
              text: str) -> CaseTask:
    assert escalation.id is not None
    escalation.callback = True
    if escalation.status == EscalationStatus.OPEN:  # scheduling a callback is taking the case on
        escalation.status, escalation.acknowledged_at = EscalationStatus.ACKNOWLEDGED, now
        db.add(EscalationEvent(escalation_id=escalation.id, at=now, actor=actor, kind="acknowledged"))
    db.add(escalation)
    db.add(task)
    db.flush()
    db.add(EscalationEvent(escalation_id=escalation.id, at=now, actor=actor, kind=f"scheduled_{task.kind}", text=text))
    return task


def finish_staff_call(db: DbSession, task: CaseTask, result: str, actor: str, now: dt.datetime) -> None:
    """The staff member's call done (or cancelled), with what came of it; the caller commits."""
    if task.state != CaseTaskState.PENDING:
        raise CallbackError("việc này đã xong")
    result = result.strip()
    if not result:
        raise CallbackError("ghi kết quả cuộc gọi")
    task.state, task.result, task.done_at = CaseTaskState.DONE, result, now
    db.add(task)
    db.add(EscalationEvent(escalation_id=task.escalation_id, at=now, actor=actor, kind="staff_call_done",
                           text=result))


def cancel_task(db: DbSession, task: CaseTask, actor: str, now: dt.datetime, why: str = "") -> None:
    """A callback not to make after all: its robot call is no longer dialled; the caller commits."""
    if task.state != CaseTaskState.PENDING:
        raise CallbackError("việc này đã xong")
    task.state, task.done_at, task.result = CaseTaskState.CANCELLED, now, why
    db.add(task)
    if task.follow_up_id is not None:
        follow_up = db.get(FollowUp, task.follow_up_id)
        if follow_up is not None and follow_up.state == FollowUpState.PENDING:
            follow_up.state, follow_up.next_try_at = FollowUpState.SKIPPED, None
            db.add(follow_up)
    db.add(EscalationEvent(escalation_id=task.escalation_id, at=now, actor=actor, kind="callback_cancelled",
                           text=f"{task.kind}" + (f": {why}" if why else "")))


def cancel_pending(db: DbSession, escalation_id: int, actor: str, now: dt.datetime, why: str) -> int:
    """Cancel every callback still to make on a case (it is being resolved); how many there were."""
    tasks = db.exec(select(CaseTask).where(CaseTask.escalation_id == escalation_id,
                                           CaseTask.state == CaseTaskState.PENDING)).all()
    for task in tasks:
        cancel_task(db, task, actor, now, why)
    return len(tasks)


def callback_on_timeline(db: DbSession, follow_up: FollowUp, attempt: CallAttempt) -> None:
    """A robot callback's call was written: its answers (or why nobody answered) go on the case's
    timeline, and its task is done once the follow-up is (reached, or no more tries today)."""
    assert follow_up.escalation_id is not None and attempt.id is not None
    answers = db.exec(select(Answer).where(Answer.attempt_id == attempt.id).order_by(col(Answer.id))).all()
    if attempt.answered_at is not None:
        text = "; ".join(f"{a.question}: {_shown(a.value)}" for a in answers) or "đã nghe máy, không có câu trả lời"
    else:
        text = f"không liên lạc được ({attempt.state})"
    at = attempt.ended_at or attempt.queued_at
    db.add(EscalationEvent(escalation_id=follow_up.escalation_id, attempt_id=attempt.id, at=at, actor="robot",
                           kind="callback_call", text=text))
    if follow_up.state in (FollowUpState.REACHED, FollowUpState.UNREACHED):
        close_callback_task(db, follow_up, text, at)


def close_callback_task(db: DbSession, follow_up: FollowUp, result: str, at: dt.datetime) -> None:
    task = db.exec(select(CaseTask).where(CaseTask.follow_up_id == follow_up.id)).first()
    if task is not None and task.state == CaseTaskState.PENDING:
        task.state, task.result, task.done_at = CaseTaskState.DONE, result, at
        db.add(task)


def _shown(value: Any) -> str:
    if value is True:
        return "có"
    if value is False:
        return "không"
    return "" if value is None else str(value)
