"""RQ jobs of the dialer.  Jobs take ids and ISO times, never ORM objects or connections.

Each worker process builds its context (database engine, flows, policy,
backend) once from the settings and reuses it for every job.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import lru_cache

from rq import Queue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.campaigns.call_handler import RecordingCallHandler
from robocall.campaigns.dialer import DialLimits, dial_tick, record_outcome, skip_attempt
from robocall.campaigns.policy import CallPolicy, caller_ids_from_settings, policy_from_settings
from robocall.config import get_settings
from robocall.db import make_engine
from robocall.flows.engine import contact_fields
from robocall.flows.loader import Flow, load_flows
from robocall.logging_setup import mask_phone
from robocall.queues import CALLS, queue_name
from robocall.models import CallAttempt, CallState, Contact
from robocall.telephony.base import CallRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerContext:
    engine: Engine
    flows: dict[str, Flow]
    policy: CallPolicy
    limits: DialLimits
    backend: object


@lru_cache(maxsize=1)
def context() -> WorkerContext:
    settings = get_settings()
    flows, problems = load_flows([settings.flows_dir], settings.audio_dir)
    for problem in problems:
        log.error("flow refused: %s", problem)
    return WorkerContext(
        engine=make_engine(settings.database_url),
        flows=flows,
        policy=policy_from_settings(settings),
        limits=DialLimits(settings.max_channels, settings.calls_per_second, caller_ids_from_settings(settings)),
        backend=_backend(settings.telephony_backend, settings.sim_seed, flows),
    )


def _backend(name: str, seed: int, flows: dict[str, Flow]) -> object:
    if name != "sim":
        raise NotImplementedError(f"TELEPHONY_BACKEND={name} is not available yet; use sim")
    from robocall.sim.network import SimPhoneNetwork

    return SimPhoneNetwork({}, seed=seed, flows=flows)


def dial_tick_job(now_iso: str, horizon_iso: str) -> list[str]:
    """Start the calls due between now and horizon; returns the ids of the call jobs it queued."""
    ctx = context()
    planned = dial_tick(ctx.engine, dt.datetime.fromisoformat(now_iso), dt.datetime.fromisoformat(horizon_iso),
                        ctx.policy, ctx.limits)
    from rq import get_current_job

    job = get_current_job()
    assert job is not None, "dial_tick_job runs inside an RQ worker"
    queue = Queue(queue_name(CALLS), connection=job.connection)
    jobs = queue.enqueue_many([
        Queue.prepare_data(place_call_job, args=(call.attempt_id, call.start_at.isoformat()),
                           job_id=f"{queue_name(CALLS).replace(':', '-')}-{call.attempt_id}", result_ttl=3600, failure_ttl=86400)
        for call in planned
    ])
    return [j.id for j in jobs]


def place_call_job(attempt_id: int, start_iso: str) -> str:
    """Dial one queued attempt and record how it went.  Safe to run twice: a finished attempt is left alone."""
    ctx = context()
    start = dt.datetime.fromisoformat(start_iso)
    with DbSession(ctx.engine) as db:
        attempt = db.get(CallAttempt, attempt_id)
        if attempt is None:
            raise LookupError(f"call attempt {attempt_id} does not exist")
        if attempt.state != CallState.QUEUED:
            return attempt.state
        contact = db.get(Contact, attempt.contact_id) if attempt.contact_id else None
        if contact is None or contact.opted_out:
            skip_attempt(db, attempt, start, "opted_out" if contact else "no_contact")
            db.commit()
            return CallState.FAILED
        flow = ctx.flows.get(attempt.flow)
        if flow is None:
            skip_attempt(db, attempt, start, f"flow '{attempt.flow}' is not loaded")
            db.commit()
            return CallState.FAILED
        fields = contact_fields(
            today=attempt.day, name=contact.name, category=contact.category, district=contact.district,
            commune=contact.commune, exposure_date=contact.exposure_date, phone=contact.phone,
        )
        exposure_date, language = contact.exposure_date, contact.language

    def after_save(db: DbSession, saved: CallAttempt) -> None:
        record_outcome(db, saved, ctx.policy)

    handler = RecordingCallHandler(ctx.engine, flow, attempt_id, attempt.contact_id, fields, language,
                                   dialled_at=start, after_save=after_save)
    request = CallRequest(attempt_id=attempt_id, phone=attempt.phone, caller_id=attempt.caller_id, at=start)
    result = ctx.backend.place_call(request, handler, flow, exposure_date)  # type: ignore[attr-defined]
    log.info("call %s to %s: %s", attempt_id, mask_phone(attempt.phone), result.state)
    return str(result.state)


def hotline_call_job(phone: str, at_iso: str, flow_name: str = "hotline") -> str:
    """A resident calls the hotline at `at` (the simulator's inbound calls)."""
    ctx = context()
    at = dt.datetime.fromisoformat(at_iso)
    flow = ctx.flows[flow_name]
    local_day = ctx.policy.local_day(at)
    with DbSession(ctx.engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == phone)).first()
        attempt = CallAttempt(contact_id=contact.id if contact else None, phone=phone, flow=flow.name,
                              direction="inbound", day=local_day, state=CallState.ANSWERED, queued_at=at,
                              dialled_at=at)
        try:
            db.add(attempt)
            db.commit()
        except IntegrityError:  # this person is on an outbound call right now: the line is busy
            return CallState.BUSY
        attempt_id = attempt.id
        language = contact.language if contact else None
    assert attempt_id is not None
    fields = contact_fields(today=local_day)  # an inbound caller is not identified by the flow
    handler = RecordingCallHandler(ctx.engine, flow, attempt_id, contact.id if contact else None, fields,
                                   language, dialled_at=at)
    request = CallRequest(attempt_id=attempt_id, phone=phone, caller_id="", at=at)
    result = ctx.backend.receive_call(request, handler, flow)  # type: ignore[attr-defined]
    return str(result.state)
