"""CallHandlers backed by the database: the handler for an outbound attempt or an inbound hotline call.

What place_call_job and hotline_call_job build for the simulator, for backends whose line events
arrive later in another process (Asterisk's AMI listener and FastAGI server).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.campaigns.call_handler import RecordingCallHandler
from robocall.campaigns.dialer import record_outcome
from robocall.campaigns.policy import CallPolicy
from robocall.flows.engine import contact_fields
from robocall.flows.loader import Flow
from robocall.models import CallAttempt, CallState, Contact


class DbCallHandlers:
    def __init__(self, engine: Engine, flows: Mapping[str, Flow], policy: CallPolicy, backend: str = "asterisk") -> None:
        self.engine, self.flows, self.policy, self.backend = engine, flows, policy, backend

    def outbound(self, attempt_id: int, dialled_at: dt.datetime) -> RecordingCallHandler:
        """The handler recording attempt `attempt_id`; LookupError when it or its flow is gone."""
        with DbSession(self.engine) as db:
            attempt = db.get(CallAttempt, attempt_id)
            if attempt is None:
                raise LookupError(f"call attempt {attempt_id} does not exist")
            flow = self.flows.get(attempt.flow)
            if flow is None:
                raise LookupError(f"call attempt {attempt_id}: flow '{attempt.flow}' is not loaded")
            contact = db.get(Contact, attempt.contact_id) if attempt.contact_id else None
            fields = contact_fields(
                today=attempt.day, name=contact.name if contact else "", category=contact.category if contact else "",
                district=contact.district if contact else "", commune=contact.commune if contact else "",
                exposure_date=contact.exposure_date if contact else None, phone=attempt.phone,
            )
            language = contact.language if contact else None
            contact_id = attempt.contact_id

        def after_save(db: DbSession, saved: CallAttempt) -> None:
            record_outcome(db, saved, self.policy)

        return RecordingCallHandler(self.engine, flow, attempt_id, contact_id, fields, language,
                                    dialled_at=dialled_at, after_save=after_save)

    def inbound(self, phone: str, at: dt.datetime, flow: str) -> RecordingCallHandler | None:
        """A new inbound attempt for `phone`; None when that person is on a call already (busy)."""
        found = self.flows.get(flow)
        if found is None:
            raise LookupError(f"hotline flow '{flow}' is not loaded")
        local_day = self.policy.local_day(at)
        with DbSession(self.engine) as db:
            contact = db.exec(select(Contact).where(Contact.phone == phone)).first() if phone else None
            attempt = CallAttempt(contact_id=contact.id if contact else None, phone=phone, flow=found.name,
                                  direction="inbound", day=local_day, state=CallState.ANSWERED, queued_at=at,
                                  dialled_at=at, backend=self.backend)
            try:
                db.add(attempt)
                db.commit()
            except IntegrityError:  # on an outbound call right now: the line is busy
                return None
            attempt_id = attempt.id
            language = contact.language if contact else None
            contact_id = contact.id if contact else None
        assert attempt_id is not None
        return RecordingCallHandler(self.engine, found, attempt_id, contact_id, contact_fields(today=local_day),
                                    language, dialled_at=at)


def unfinished_attempts(engine: Engine, backend: str, dialled_before: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """(id, dialled at) of the calls on `backend` still open (dialling, ringing, answered) that were
    dialled before `dialled_before`: candidates for reconciling with the live channels."""
    open_states = (CallState.DIALLING, CallState.RINGING, CallState.ANSWERED)
    with DbSession(engine) as db:
        rows = db.exec(select(CallAttempt.id, CallAttempt.dialled_at, CallAttempt.queued_at).where(
            CallAttempt.backend == backend, CallAttempt.state.in_(open_states),  # type: ignore[attr-defined]
            CallAttempt.ended_at.is_(None),  # type: ignore[union-attr]
        )).all()
    found = []
    for attempt_id, dialled_at, queued_at in rows:
        at = dialled_at or queued_at
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        if at < dialled_before and attempt_id is not None:
            found.append((attempt_id, at))
    return found
