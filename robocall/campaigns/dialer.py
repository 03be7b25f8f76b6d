"""Who to call, when, on which channel: the dialer's decisions, written to the database.

Time is always passed in (`now`), so the same code runs on the wall clock
against Asterisk or Twilio and on the simulator's virtual clock.

The guarantees, and where they come from:
- never two calls to one contact at once: a partial unique index on
  call attempts (see models.CallAttempt), whatever number of dialers race;
- never more than `max_channels` calls on the line: a channel is busy from
  an attempt's start until its end, counted from the attempts table;
- a calls-per-second pace: consecutive starts are at least 1/cps apart,
  also across ticks (the last start is read back from the table);
- one tick at a time, and a window dialled once: a tick holds the dialer's
  lock (robocall.db.hold_lock) for its transaction, and a tick run again over
  a window already dialled (its first run's worker died after committing)
  plans nothing new (its calls are handed out again by recovery.py);
- a call planned but never dialled is not lost: each queued attempt carries a
  lease (wall clock) that robocall/campaigns/recovery.py reclaims.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.call_policy import CallPolicy
from robocall.campaigns.callbacks import callback_on_timeline, close_callback_task
from robocall.conversations.recording import escalate_home_visit
from robocall.db import hold_lock
from robocall.models import (
    CallAttempt,
    CallCampaign,
    CallState,
    Contact,
    FollowUp,
    FollowUpState,
    failed_for_good,
    stored_utc,
    utcnow,
)

DIALER_LOCK = "robocall-dialer"


@dataclass(frozen=True)
class DialLimits:
    max_channels: int = 30
    calls_per_second: float = 5.0
    caller_ids: tuple[tuple[str, str], ...] = ()  # (carrier, caller id); carrier "" is the default
    international_calls: bool = False  # INTERNATIONAL_CALLS: foreign numbers are skipped otherwise
    lease: dt.timedelta = dt.timedelta(seconds=120)  # CALL_LEASE_SECONDS: a planned call's time to be dialled

    def caller_id_for(self, carrier: str) -> str:
        table = dict(self.caller_ids)
        return table.get(carrier, table.get("", ""))


def planned_channels(max_channels: int, max_channels_set: bool, capacity: int | None) -> int:
    """The calls at once the dialer plans for: what the phone backend can carry now (the sum of the
    limits of the Asterisk servers that are up), or MAX_CHANNELS when it sets no limit of its own;
    the smaller of the two when MAX_CHANNELS is set too."""
    if capacity is None:
        return max_channels
    return min(max_channels, capacity) if max_channels_set else capacity


@dataclass(frozen=True)
class PlannedCall:
    attempt_id: int
    start_at: dt.datetime


# --- the day's plan ------------------------------------------------------------------------------------


def plan_day(engine: Engine, day: dt.date, policy: CallPolicy) -> int:
    """Create today's follow-up for every monitored, reachable contact of every active campaign."""
    created = 0
    opens = policy.window_opens(day)
    with DbSession(engine) as db:
        campaigns = db.exec(select(CallCampaign).where(CallCampaign.status == "active")).all()
        for campaign in campaigns:
            categories = [c.strip() for c in campaign.categories.split(",") if c.strip()]
            contacts = db.exec(
                select(Contact.id).where(
                    col(Contact.category).in_(categories), Contact.opted_out == False,  # noqa: E712
                    col(Contact.exposure_date) < day, col(Contact.monitoring_end) >= day,
                )
            ).all()
            already = set(db.exec(select(FollowUp.contact_id).where(
                FollowUp.day == day, col(FollowUp.escalation_id).is_(None))).all())
            for contact_id in contacts:
                if contact_id in already:
                    continue
                assert campaign.id is not None and contact_id is not None
                db.add(FollowUp(campaign_id=campaign.id, contact_id=contact_id, day=day, next_try_at=opens))
                created += 1
        db.commit()
    return created


# --- channels and pace -------------------------------------------------------------------------------


def _busy_at(at: dt.datetime):  # type: ignore[no-untyped-def]
    """SQL condition: the attempt holds a channel at `at`.  An outbound call we planned to start
    later already holds its channel: a second tick over the same moment must not reuse it."""
    started = func.coalesce(CallAttempt.dialled_at, CallAttempt.queued_at)
    holds = or_(started <= at, CallAttempt.direction == "outbound") & (CallAttempt.channel == "voice")  # not SMS
    return holds & or_(col(CallAttempt.ended_at).is_(None), col(CallAttempt.ended_at) > at)


def channels_in_use(db: DbSession, at: dt.datetime) -> int:
    return db.exec(select(func.count()).select_from(CallAttempt).where(_busy_at(at))).one()


def free_channel_times(db: DbSession, now: dt.datetime, horizon: dt.datetime, max_channels: int) -> list[dt.datetime]:
    """The moments in [now, horizon) at which a channel is free to start a call, one per channel."""
    free_now = max(0, max_channels - channels_in_use(db, now))
    ending = db.exec(
        select(CallAttempt.ended_at).where(_busy_at(now), col(CallAttempt.ended_at) < horizon)
        .order_by(col(CallAttempt.ended_at))
    ).all()
    return [now] * free_now + [stored_utc(t) for t in ending if t is not None]


def last_start(db: DbSession, before: dt.datetime) -> dt.datetime | None:
    """The latest outbound start before `before`: the pace applies to the calls we originate."""
    started_at = func.coalesce(CallAttempt.dialled_at, CallAttempt.queued_at)
    started = db.exec(select(func.max(started_at)).where(
        CallAttempt.direction == "outbound", started_at < before)).one()
    return stored_utc(started) if started else None


def next_moment(engine: Engine, day: dt.date, after: dt.datetime) -> dt.datetime | None:
    """The next time something can change for the dialer: a retry falls due or a call ends."""
    with DbSession(engine) as db:
        due = db.exec(select(func.min(FollowUp.next_try_at)).where(
            FollowUp.day == day, FollowUp.state == FollowUpState.PENDING, col(FollowUp.next_try_at) > after)).one()
        ends = db.exec(select(func.min(CallAttempt.ended_at)).where(_busy_at(after))).one()
    moments = [stored_utc(t) for t in (due, ends) if t is not None]
    return min(moments) if moments else None


# --- one tick of the dialer -------------------------------------------------------------------------


def dial_tick(engine: Engine, now: dt.datetime, horizon: dt.datetime, policy: CallPolicy,
              limits: DialLimits) -> list[PlannedCall]:
    """Start every due follow-up that a channel and the pace allow between `now` and `horizon`."""
    closes = policy.window_closes(policy.local_day(now))
    horizon = min(horizon, closes)
    if not policy.in_window(now) or now >= horizon:
        return []
    gap = dt.timedelta(seconds=1 / limits.calls_per_second)
    planned: list[PlannedCall] = []
    lease_until = utcnow() + limits.lease
    with DbSession(engine) as db:
        hold_lock(db.connection(), DIALER_LOCK, idle_timeout_seconds=int(limits.lease.total_seconds()))
        if window_dialled(db, now, horizon):
            return []  # a second run of this tick (the first one's worker died after committing)
        slots = free_channel_times(db, now, horizon, limits.max_channels)
        if not slots:
            return []
        due = list(db.exec(
            select(FollowUp, Contact).join(Contact, col(Contact.id) == FollowUp.contact_id)
            .where(FollowUp.state == FollowUpState.PENDING, col(FollowUp.next_try_at) < horizon)
            .order_by(col(FollowUp.next_try_at), col(FollowUp.id))
            .limit(len(slots))  # the earliest due take the slots: no need to read the whole backlog
        ).all())
        previous = last_start(db, horizon)
        campaigns = {c.id: c for c in db.exec(select(CallCampaign)).all()}
        for slot in slots:
            if not due:
                break
            start = slot if previous is None else max(slot, previous + gap)
            # `due` is sorted by due time: the first is the one to call, at once or when it falls due
            start = max(start, stored_utc(due[0][0].next_try_at))
            if start >= horizon:
                break
            follow_up, contact = due.pop(0)
            if contact.opted_out or (contact.phone_kind == "foreign" and not limits.international_calls):
                follow_up.state = FollowUpState.SKIPPED
                db.add(follow_up)
                continue
            attempt = _start_attempt(db, follow_up, contact, campaigns[follow_up.campaign_id], start, limits,
                                     lease_until)
            if attempt is None:
                continue
            planned.append(PlannedCall(attempt, start))
            previous = start
        db.commit()
    return planned


def number_to_dial(contact: Contact, attempts_made: int) -> str:
    """The main number first; when it has not answered, the contact's second number (``alt_phone``), then
    the two in turn up the retry ladder."""
    if contact.alt_phone and attempts_made % 2 == 1:
        return contact.alt_phone
    return contact.phone


def window_dialled(db: DbSession, now: dt.datetime, horizon: dt.datetime) -> bool:
    """Whether a tick has planned calls in [now, horizon) already: every call a tick plans starts in its
    window, and the next tick's window begins where this one ends."""
    started = db.exec(select(CallAttempt.id).where(
        CallAttempt.direction == "outbound", CallAttempt.channel == "voice",
        col(CallAttempt.queued_at) >= now, col(CallAttempt.queued_at) < horizon).limit(1)).first()
    return started is not None


def _start_attempt(db: DbSession, follow_up: FollowUp, contact: Contact, campaign: CallCampaign,
                   start: dt.datetime, limits: DialLimits, lease_until: dt.datetime) -> int | None:
    attempt = CallAttempt(
        campaign_id=campaign.id, contact_id=contact.id, phone=number_to_dial(contact, follow_up.attempts),
        flow=follow_up.flow or campaign.flow,
        direction="outbound", day=follow_up.day, attempt_number=follow_up.attempts + 1,
        state=CallState.QUEUED, caller_id=limits.caller_id_for(contact.carrier), queued_at=start,
        follow_up_id=follow_up.id, lease_until=lease_until,
    )
    try:
        with db.begin_nested():  # the unique index may refuse it: another dialer got there first
            db.add(attempt)
            db.flush()
    except IntegrityError:
        return None
    follow_up.state = FollowUpState.CALLING
    db.add(follow_up)
    return attempt.id


# --- after a call ------------------------------------------------------------------------------------


def follow_up_of(db: DbSession, attempt: CallAttempt) -> FollowUp | None:
    """The follow-up an outbound attempt belongs to (none for hotline calls)."""
    if attempt.follow_up_id is not None:
        return db.get(FollowUp, attempt.follow_up_id)
    if attempt.direction != "outbound":
        return None
    return db.exec(select(FollowUp).where(  # an attempt planned before calls knew their follow-up
        FollowUp.contact_id == attempt.contact_id, FollowUp.day == attempt.day, col(FollowUp.escalation_id).is_(None),
    )).first()


def skip_attempt(db: DbSession, attempt: CallAttempt, at: dt.datetime, reason: str) -> None:
    """Close a queued attempt without dialling (opted out since it was planned, no flow...)."""
    attempt.state, attempt.ended_at, attempt.end_reason = CallState.FAILED, at, reason
    db.add(attempt)
    follow_up = follow_up_of(db, attempt)
    if follow_up is not None:
        follow_up.state = FollowUpState.SKIPPED
        db.add(follow_up)


def record_outcome(db: DbSession, attempt: CallAttempt, policy: CallPolicy) -> None:
    """Move the attempt's follow-up on: reached, a later retry, or unreached for today."""
    follow_up = follow_up_of(db, attempt)
    if follow_up is None:
        return
    follow_up.attempts = max(follow_up.attempts, attempt.attempt_number)
    state = CallState(attempt.state)
    if attempt.answered_at is not None:
        follow_up.state, follow_up.next_try_at = FollowUpState.REACHED, None
    else:
        ended = stored_utc(attempt.ended_at) if attempt.ended_at else stored_utc(attempt.queued_at)
        # A number that can never be reached as dialled (invalid, not allowed) is not tried again today.
        retry = None if failed_for_good(attempt.end_reason) else policy.next_try(state, follow_up.attempts, ended)
        if retry is None:
            follow_up.state, follow_up.next_try_at = FollowUpState.UNREACHED, None
        else:
            follow_up.state, follow_up.next_try_at = FollowUpState.PENDING, retry
    db.add(follow_up)
    if follow_up.escalation_id is not None:
        callback_on_timeline(db, follow_up, attempt)


# --- closing the day ---------------------------------------------------------------------------------


def close_day(engine: Engine, day: dt.date, policy: CallPolicy, at: dt.datetime) -> list[int]:
    """Mark contacts not reached today as non-reporting; escalate long silences for a home visit."""
    raised: list[int] = []
    with DbSession(engine) as db:
        follow_ups = db.exec(select(FollowUp).where(FollowUp.day == day)).all()
        previous = {
            f.contact_id: f.unreachable_streak
            for f in db.exec(select(FollowUp).where(FollowUp.day == day - dt.timedelta(days=1),
                                                    col(FollowUp.escalation_id).is_(None))).all()
        }
        for follow_up in follow_ups:
            if follow_up.state in (FollowUpState.PENDING, FollowUpState.CALLING):
                follow_up.state = FollowUpState.UNREACHED
            if follow_up.escalation_id is not None:  # a case's callback: no daily streak
                db.add(follow_up)
                close_callback_task(db, follow_up, "không liên lạc được trong ngày", at)
                continue
            if follow_up.state == FollowUpState.UNREACHED:
                follow_up.unreachable_streak = previous.get(follow_up.contact_id, 0) + 1
            else:
                follow_up.unreachable_streak = 0
            db.add(follow_up)
            if follow_up.unreachable_streak == policy.unreachable_days_to_escalate:
                raised.append(escalate_home_visit(db, follow_up.contact_id, follow_up.unreachable_streak, at))
        db.commit()
    return raised


def pending_work(engine: Engine, day: dt.date) -> tuple[int, dt.datetime | None]:
    """(follow-ups still open today, when the earliest pending one is due)."""
    with DbSession(engine) as db:
        open_count = db.exec(
            select(func.count()).select_from(FollowUp)
            .where(FollowUp.day == day, col(FollowUp.state).in_([FollowUpState.PENDING, FollowUpState.CALLING]))
        ).one()
        earliest = db.exec(
            select(func.min(FollowUp.next_try_at)).where(FollowUp.day == day, FollowUp.state == FollowUpState.PENDING)
        ).one()
    return open_count, (stored_utc(earliest) if earliest else None)

