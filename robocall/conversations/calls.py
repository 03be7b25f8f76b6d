"""The handlers of phone calls, built from the database: what every telephony backend drives.

`RecordedCalls` is the `CallHandlers` source (robocall.telephony.base) the composition root gives
to a backend.  An outbound call's handler is built from its queued attempt and contact; an inbound
call (the hotline) first gets an attempt of its own, refused while that person is on another call;
who is calling and the calls nobody took up are robocall/conversations/hotline.py's, shared with the
webhook backends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession

from robocall.conversations.call_handler import RecordingCallHandler
from robocall.conversations.hotline import hotline_caller, refuse_call
from robocall.flows.engine import contact_fields
from robocall.flows.loader import Flow
from robocall.models import CallAttempt, CallState, Contact

AfterSave = Callable[[DbSession, CallAttempt], None]


class RecordedCalls:
    def __init__(self, engine: Engine, flows: Mapping[str, Flow], timezone: ZoneInfo,
                 after_outbound: AfterSave | None = None, backend: str = "sim") -> None:
        self.engine = engine
        self.flows = flows
        self.timezone = timezone
        self.after_outbound = after_outbound  # in the call's transaction: the dialer moves the follow-up on
        # Written on hotline attempts: a backend reconciles its own open calls after a crash, so an
        # inbound call must say whose it is (outbound attempts get theirs from the backend that dials).
        self.backend = backend

    def outbound(self, attempt_id: int, dialled_at: dt.datetime) -> RecordingCallHandler:
        """The handler of an attempt already written: an outbound call being placed, or any open call
        a backend closes after a crash (a hotline call's then ends as a hotline call: no follow-up
        moves, a missed one becomes a callback case)."""
        with DbSession(self.engine) as db:
            attempt = db.get(CallAttempt, attempt_id)
            if attempt is None:
                raise LookupError(f"call attempt {attempt_id} does not exist")
            flow, fields, language = call_setup(db, attempt, self.flows)
        hotline = attempt.direction == "inbound"
        return RecordingCallHandler(self.engine, flow, attempt_id, attempt.contact_id, fields, language,
                                    dialled_at=dialled_at, after_save=None if hotline else self.after_outbound,
                                    hotline=hotline)

    def inbound(self, phone: str, at: dt.datetime, flow: str, line: str = "") -> RecordingCallHandler | None:
        line_flow = self._line_flow(flow)
        with DbSession(self.engine) as db:
            contact = hotline_caller(db, phone, line)
            attempt = new_inbound_attempt(db, contact, phone, line_flow.name, at, self.timezone, CallState.ANSWERED,
                                          backend=self.backend)
            if attempt is None:  # this person is on another call right now: the line is busy
                refuse_call(db, contact, phone, line_flow.name, at, self.timezone, "busy: on another call",
                            self.backend)
                return None
            assert attempt.id is not None
            attempt_id, contact_id, day = attempt.id, attempt.contact_id, attempt.day
            language = contact.language if contact else None
        fields = contact_fields(today=day)  # an inbound caller is not identified by the flow
        return RecordingCallHandler(self.engine, line_flow, attempt_id, contact_id, fields, language,
                                    dialled_at=at, hotline=True)

    def refused(self, phone: str, at: dt.datetime, flow: str, line: str = "", reason: str = "busy") -> int:
        """A hotline call refused before the menu (every channel busy, the call service full): a busy
        attempt with a callback case; returns its id."""
        line_flow = self._line_flow(flow)
        with DbSession(self.engine) as db:
            contact = hotline_caller(db, phone, line)
            return refuse_call(db, contact, phone, line_flow.name, at, self.timezone, reason, self.backend)

    def _line_flow(self, flow: str) -> Flow:
        line_flow = self.flows.get(flow)
        if line_flow is None:
            raise LookupError(f"flow '{flow}' of the inbound line is not loaded")
        return line_flow


def new_inbound_attempt(db: DbSession, contact: Contact | None, phone: str, flow: str, at: dt.datetime,
                        timezone: ZoneInfo, state: CallState, **columns: Any) -> CallAttempt | None:
    """A new inbound call's attempt, committed; None (rolled back) when that person is on another call:
    the partial unique index of active calls refuses a second one."""
    attempt = CallAttempt(contact_id=contact.id if contact else None, phone=phone, flow=flow, direction="inbound",
                          day=at.astimezone(timezone).date(), state=state, queued_at=at, dialled_at=at, **columns)
    try:
        db.add(attempt)
        db.commit()
    except IntegrityError:
        db.rollback()
        return None
    return attempt


def call_setup(db: DbSession, attempt: CallAttempt, flows: Mapping[str, Flow]) -> tuple[Flow, dict[str, Any], str | None]:
    """The flow, template fields and language a call's session starts with.  An outbound call knows
    its contact; an inbound caller is not identified by the flow (only the language is theirs)."""
    contact = db.get(Contact, attempt.contact_id) if attempt.contact_id else None
    return setup_for(attempt, contact, flows)


def setup_for(attempt: CallAttempt, contact: Contact | None, flows: Mapping[str, Flow]
              ) -> tuple[Flow, dict[str, Any], str | None]:
    """`call_setup` with the contact already read (a webhook's pick-up reads both in one statement)."""
    flow = flows.get(attempt.flow)
    if flow is None:
        raise LookupError(f"flow '{attempt.flow}' of call attempt {attempt.id} is not loaded")
    language = contact.language if contact else None
    if contact is None or attempt.direction == "inbound":
        return flow, contact_fields(today=attempt.day), language
    fields = contact_fields(
        today=attempt.day, name=contact.name, category=contact.category, district=contact.district,
        commune=contact.commune, exposure_date=contact.exposure_date, phone=contact.phone,
    )
    return flow, fields, language
