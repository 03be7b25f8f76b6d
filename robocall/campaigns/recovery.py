"""Calls abandoned by a dead worker, found and handed out again: the dialer's lease.

A dial tick plans calls (queued attempts, their follow-ups `calling`) and then queues one job per call;
a worker killed between the two, or while it holds a call's job before dialling, leaves attempts
`queued` with nothing behind them: they would hold their channels and their contacts for ever.

So every queued outbound attempt carries a lease (`lease_until`, wall clock, CALL_LEASE_SECONDS) and a
dispatch number (`dispatch`).  The job that dials it must first claim that number (`claim`), which
moves it on: a job handed out earlier and delivered late, or twice, finds the number gone and dials
nothing.  Once the lease has run out with the attempt still queued, `reclaim` hands it out again under
the next number, at its planned time (the simulator then plays the very same call).

Never a second call in one slot: only *queued* attempts are handed out again.  A backend that reaches
a real network marks the attempt `dialling` before the call leaves (Asterisk's `mark_dialling`,
Twilio's), in one update that succeeds once; from then on the call is the backend's to close (the
Asterisk serve process's reconciling, `robocall twilio reconcile`), as `failed` when it was lost, and
the retry ladder places the next attempt.  The simulated network lives inside the worker, so a
simulated call cut by its worker's death never reached anyone and stays `queued` until it is played
again.  An attempt found after its window has closed (or its day passed) is not dialled late: it is
closed as failed and its follow-up moves on.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import record_outcome
from robocall.models import CallAttempt, CallState, stored_utc, utcnow

log = logging.getLogger(__name__)

LOST_BEFORE_DIALLING = "not dialled: its worker was lost and its window has passed"


@dataclass(frozen=True)
class Dispatch:
    """A queued call handed to a worker: the job dials it only with this dispatch number."""

    attempt_id: int
    start_at: dt.datetime
    number: int


def claim(engine: Engine, attempt_id: int, number: int, lease: dt.timedelta, wall: dt.datetime | None = None) -> bool:
    """Take a queued attempt for dialling under dispatch `number`; False when it is not queued any more or
    was handed out again since (this job came late, or twice).  The claim renews the lease."""
    wall = wall or utcnow()
    with DbSession(engine) as db:
        result = db.exec(update(CallAttempt).where(  # type: ignore[call-overload]
            CallAttempt.id == attempt_id, CallAttempt.state == CallState.QUEUED,  # type: ignore[arg-type]
            CallAttempt.dispatch == number,  # type: ignore[arg-type]
        ).values(dispatch=number + 1, lease_until=wall + lease))
        db.commit()
        return bool(result.rowcount)


def reclaim(engine: Engine, policy: CallPolicy, lease: dt.timedelta, now: dt.datetime,
            wall: dt.datetime | None = None) -> list[Dispatch]:
    """The queued outbound attempts whose lease has run out, each handed out again (a new dispatch
    number and lease, taken in one update so that two reclaimers never both hand it out); those whose
    window has closed at `now` (the dialer's clock) are closed as failed instead, their follow-ups
    moved on.  Returns what is to be dialled."""
    wall = wall or utcnow()
    expired = or_(col(CallAttempt.lease_until).is_(None), col(CallAttempt.lease_until) < wall)
    with DbSession(engine) as db:
        stale = db.exec(select(CallAttempt.id, CallAttempt.dispatch).where(
            CallAttempt.state == CallState.QUEUED, CallAttempt.direction == "outbound",
            CallAttempt.channel == "voice", expired).order_by(col(CallAttempt.id))).all()
    handed: list[Dispatch] = []
    closed: list[int] = []
    for attempt_id, number in stale:
        assert attempt_id is not None
        with DbSession(engine) as db:
            taken = db.exec(update(CallAttempt).where(  # type: ignore[call-overload]
                CallAttempt.id == attempt_id, CallAttempt.state == CallState.QUEUED,  # type: ignore[arg-type]
                CallAttempt.dispatch == number, expired,  # type: ignore[arg-type]
            ).values(dispatch=number + 1, lease_until=wall + lease)).rowcount
            if not taken:
                continue  # claimed or handed out meanwhile
            attempt = db.get(CallAttempt, attempt_id)
            assert attempt is not None
            start = stored_utc(attempt.queued_at)
            if policy.in_window(now) and policy.local_day(now) == attempt.day:
                handed.append(Dispatch(attempt_id, start, number + 1))
            else:
                attempt.state, attempt.ended_at, attempt.end_reason = CallState.FAILED, now, LOST_BEFORE_DIALLING
                db.add(attempt)
                record_outcome(db, attempt, policy)
                closed.append(attempt_id)
            db.commit()
    if handed or closed:
        log.warning("calls abandoned by a lost worker: %d handed out again %s, %d closed %s",
                    len(handed), [d.attempt_id for d in handed], len(closed), closed)
    return handed


def queued_calls(engine: Engine, day: dt.date, before: dt.datetime | None = None) -> int:
    """Outbound calls of `day` still queued (planned to start before `before`, when given)."""
    with DbSession(engine) as db:
        query = select(func.count()).select_from(CallAttempt).where(
            CallAttempt.day == day, CallAttempt.state == CallState.QUEUED, CallAttempt.direction == "outbound")
        if before is not None:
            query = query.where(col(CallAttempt.queued_at) < before)
        return db.exec(query).one()


def planned_between(engine: Engine, start: dt.datetime, end: dt.datetime) -> int:
    """Outbound calls planned to start in [start, end): what the tick over that window placed."""
    with DbSession(engine) as db:
        return db.exec(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.direction == "outbound", CallAttempt.channel == "voice",
            col(CallAttempt.queued_at) >= start, col(CallAttempt.queued_at) < end)).one()
