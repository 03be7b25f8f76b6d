"""RQ jobs of the dialer.  Jobs take ids and ISO times, never ORM objects or connections.

Each worker process builds its context (database engine, flows, policy, the configured phone
backend and the handlers it drives) once from the settings and reuses it for every job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from rq import Queue, get_current_job
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.call_policy import (
    CallPolicy,
    caller_ids_from_settings,
    policy_from_settings,
)
from robocall.campaigns.dialer import (
    DialLimits,
    dial_tick,
    planned_channels,
    record_outcome,
    skip_attempt,
)
from robocall.campaigns.recovery import Dispatch, claim, reclaim
from robocall.config import Settings, get_settings
from robocall.conversations.calls import RecordedCalls
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.flows.loader import Flow
from robocall.logging_setup import log_context, mask_phone
from robocall.models import CallAttempt, CallState, Contact, utcnow
from robocall.queues import CALLS, job_data, queue_name
from robocall.telephony.base import CallRequest, PhoneBackend
from robocall.telephony.registry import build_backend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerContext:
    engine: Engine
    flows: dict[str, Flow]
    policy: CallPolicy
    limits: DialLimits
    calls: RecordedCalls
    backend: PhoneBackend
    max_channels_set: bool = True  # MAX_CHANNELS given in the environment (else only its default)

    def dial_limits(self) -> DialLimits:
        """The limits of this tick: the channels as the backend's capacity allows them now."""
        channels = planned_channels(self.limits.max_channels, self.max_channels_set, self.backend.capacity())
        return self.limits if channels == self.limits.max_channels else replace(self.limits, max_channels=channels)


def campaign_calls(engine: Engine, flows: dict[str, Flow], settings: Settings, policy: CallPolicy,
                   backend: str | None = None) -> RecordedCalls:
    """The handlers of the campaigns' calls, wherever a backend runs them (a worker, `asterisk serve`);
    `backend` names who carries the hotline's calls (TELEPHONY_BACKEND unless said)."""
    return RecordedCalls(engine, flows, policy.tz, after_outbound=follow_up_mover(settings, policy),
                         backend=backend or settings.telephony_backend)


@lru_cache(maxsize=1)
def context() -> WorkerContext:
    settings = get_settings()
    flows = flow_catalog(settings).flows
    engine = make_engine(settings.database_url)
    policy = policy_from_settings(settings)
    calls = campaign_calls(engine, flows, settings, policy)
    return WorkerContext(
        engine=engine,
        flows=flows,
        policy=policy,
        limits=DialLimits(settings.max_channels, settings.calls_per_second, caller_ids_from_settings(settings),
                          international_calls=settings.international_calls,
                          lease=dt.timedelta(seconds=settings.call_lease_seconds)),
        calls=calls,
        backend=build_backend(settings, engine, flows, calls),
        max_channels_set="max_channels" in settings.model_fields_set,
    )


def follow_up_mover(settings: Settings, policy: CallPolicy | None = None) -> Callable[[DbSession, CallAttempt], None]:
    """What runs in an outbound call's own transaction when it is written: the follow-up moves on.
    Given to the call handlers of workers and of the web server (webhook backends)."""
    policy = policy or policy_from_settings(settings)

    def after_outbound(db: DbSession, saved: CallAttempt) -> None:
        record_outcome(db, saved, policy)

    return after_outbound


def dial_tick_job(now_iso: str, horizon_iso: str) -> list[str]:
    """Hand out again the calls a lost worker abandoned (recovery.py), then start the calls due between
    now and horizon; returns the ids of the call jobs it queued."""
    ctx = context()
    now = dt.datetime.fromisoformat(now_iso)
    job = get_current_job()
    assert job is not None, "dial_tick_job runs inside an RQ worker"
    reclaimed = reclaim(ctx.engine, ctx.policy, ctx.limits.lease, now)
    planned = dial_tick(ctx.engine, now, dt.datetime.fromisoformat(horizon_iso), ctx.policy, ctx.dial_limits())
    return enqueue_calls(Queue(queue_name(CALLS), connection=job.connection),
                         reclaimed + [Dispatch(call.attempt_id, call.start_at, 0) for call in planned])


def enqueue_calls(queue: Queue, calls: list[Dispatch]) -> list[str]:
    """One place_call_job per call; a call handed out again gets a job id of its own."""
    prefix = queue.name.replace(":", "-")
    jobs = queue.enqueue_many([
        job_data(place_call_job, call.attempt_id, call.start_at.isoformat(), call.number,
                 job_id=f"{prefix}-{call.attempt_id}" + (f"-{call.number}" if call.number else ""))
        for call in calls
    ])
    return [j.id for j in jobs]


def reclaim_calls(engine: Engine, policy: CallPolicy, lease: dt.timedelta, now: dt.datetime, calls: Queue) -> list[str]:
    """The abandoned calls handed out again on the `calls` queue (for a clock that is not a worker: the
    simulator's); their job ids."""
    return enqueue_calls(calls, reclaim(engine, policy, lease, now))


def place_call_job(attempt_id: int, start_iso: str, dispatch: int = 0) -> str:
    """Dial one queued attempt handed out under `dispatch`.  Safe to run twice or late: an attempt no
    longer queued, or handed out again since, is left alone."""
    with log_context(attempt_id=attempt_id):  # the backend's and the handler's records name the attempt
        return _place_call(attempt_id, start_iso, dispatch)


def _place_call(attempt_id: int, start_iso: str, dispatch: int) -> str:
    ctx = context()
    start = dt.datetime.fromisoformat(start_iso)
    with DbSession(ctx.engine) as db:
        attempt = db.get(CallAttempt, attempt_id)
        if attempt is None:
            raise LookupError(f"call attempt {attempt_id} does not exist")
        if attempt.state != CallState.QUEUED:
            return attempt.state
    if not claim(ctx.engine, attempt_id, dispatch, ctx.limits.lease, utcnow()):
        log.info("call %s was handed to another worker or placed already: left alone", attempt_id)
        return CallState.QUEUED
    with DbSession(ctx.engine) as db:
        attempt = db.get(CallAttempt, attempt_id)
        assert attempt is not None
        contact = db.get(Contact, attempt.contact_id) if attempt.contact_id else None
        if contact is None or contact.opted_out:
            skip_attempt(db, attempt, start, "opted_out" if contact else "no_contact")
            db.commit()
            return CallState.FAILED
        if attempt.flow not in ctx.flows:
            skip_attempt(db, attempt, start, f"flow '{attempt.flow}' is not loaded")
            db.commit()
            return CallState.FAILED
        request = CallRequest(attempt_id=attempt_id, phone=attempt.phone, caller_id=attempt.caller_id, at=start,
                              flow=attempt.flow)
    ctx.backend.place_call(request)
    with DbSession(ctx.engine) as db:
        placed = db.get(CallAttempt, attempt_id)
        state = placed.state if placed is not None else CallState.FAILED
    log.info("call %s to %s: %s", attempt_id, mask_phone(request.phone), state)
    return str(state)
