"""The CallHandler that backends drive: runs the flow engine and writes what happened to the database.

The session lives in memory while the line is open and everything (attempt
state, answers, escalations, the flow's SMS, the session itself) is written in
one transaction when the line closes, so a call is recorded whole or not at all.
The writing itself is robocall/conversations/recording.py, shared with health
declarations by SMS.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.conversations.hotline import after_hotline_call
from robocall.conversations.recording import CallRecord, LineClosed, write_call
from robocall.flows.engine import (
    Action,
    Answered,
    Event,
    Hangup,
    Session,
    advance,
    new_session,
)
from robocall.flows.loader import Flow
from robocall.models import ACTIVE_CALL_STATES, CallAttempt, CallState

log = logging.getLogger(__name__)

__all__ = ["CallRecord", "RecordingCallHandler"]


class RecordingCallHandler:
    def __init__(self, engine: Engine, flow: Flow, attempt_id: int, contact_id: int | None,
                 fields: dict[str, Any], language: str | None, dialled_at: dt.datetime | None = None,
                 after_save: Callable[[DbSession, CallAttempt], None] | None = None, hotline: bool = False) -> None:
        self.engine = engine
        self.hotline = hotline  # an inbound call: a missed one becomes a callback case
        self.dialled_at = dialled_at
        self.after_save = after_save  # runs in the same transaction (e.g. moving the follow-up on)
        self.flow = flow
        self.attempt_id = attempt_id
        self.contact_id = contact_id
        self.session: Session = new_session(flow, fields, language)
        self.record = CallRecord()
        self.answered_at: dt.datetime | None = None

    # --- CallHandler ---
    def answered(self, at: dt.datetime) -> list[Action]:
        self.answered_at = at
        return self._step(Answered(), at)

    def event(self, event: Event, at: dt.datetime) -> list[Action]:
        return self._step(event, at)

    def ended(self, state: CallState, at: dt.datetime, reason: str = "") -> None:
        if self.answered_at is not None and not self.session.ended:
            self._step(Hangup(), at)  # the line dropped without the engine being told
        self._save(LineClosed(state, at, self.dialled_at, self.answered_at, self.session, reason))

    # --- internals ---
    def _closed_already(self, db: DbSession) -> bool:
        """Whether the attempt has ended already (its row locked till this transaction ends, on PostgreSQL)."""
        row = db.exec(select(CallAttempt.state, CallAttempt.ended_at)
                      .where(CallAttempt.id == self.attempt_id).with_for_update()).first()
        return row is not None and row[1] is not None and row[0] not in ACTIVE_CALL_STATES

    def _step(self, event: Event, at: dt.datetime) -> list[Action]:
        self.session, actions = advance(self.flow, self.session, event)
        self.record.collect(actions, at)
        return actions

    def _save(self, closed: LineClosed) -> None:
        with DbSession(self.engine) as db:
            if self._closed_already(db):
                # Another worker played this call again after its lease ran out (this one was too slow,
                # or cut off from the database): one record of a call, never two.
                log.warning("call %s was recorded by another worker already: not written twice", self.attempt_id)
                return
            attempt = write_call(db, self.attempt_id, self.contact_id, self.flow.name, closed, self.record)
            if self.after_save is not None:
                self.after_save(db, attempt)
            if self.hotline:
                after_hotline_call(db, attempt, self.record, self.flow.name, closed.at)
            db.commit()
