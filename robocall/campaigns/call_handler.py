"""The CallHandler that backends drive: runs the flow engine and writes what happened to the database.

The session lives in memory while the line is open and everything (attempt
state, answers, escalations, the session itself) is written in one
transaction when the line closes, so a call is recorded whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.flows.engine import (
    Action, Answered, Escalate, Event, Hangup, RecordAnswer, Session, advance, new_session,
)
from robocall.flows.loader import Flow
from robocall.models import Answer, CallAttempt, CallState, Escalation, EscalationEvent, EscalationStatus


@dataclass
class CallRecord:
    """What a call produced, collected from the engine's actions."""

    # by question: a menu visited twice (9 = repeat) keeps the caller's last choice
    answers: dict[str, tuple[RecordAnswer, dt.datetime]] = field(default_factory=dict)
    escalations: list[tuple[Escalate, dt.datetime]] = field(default_factory=list)


class RecordingCallHandler:
    def __init__(self, engine: Engine, flow: Flow, attempt_id: int, contact_id: int | None,
                 fields: dict[str, Any], language: str | None, dialled_at: dt.datetime | None = None,
                 after_save: Callable[[DbSession, CallAttempt], None] | None = None) -> None:
        self.engine = engine
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

    def ended(self, state: CallState, at: dt.datetime) -> None:
        if self.answered_at is not None and not self.session.ended:
            self._step(Hangup(), at)  # the line dropped without the engine being told
        self._save(state, at)

    # --- internals ---
    def _step(self, event: Event, at: dt.datetime) -> list[Action]:
        self.session, actions = advance(self.flow, self.session, event)
        for action in actions:
            if isinstance(action, RecordAnswer):
                self.record.answers[action.name] = (action, at)
            elif isinstance(action, Escalate):
                self.record.escalations.append((action, at))
        return actions

    def _save(self, state: CallState, at: dt.datetime) -> None:
        with DbSession(self.engine) as db:
            attempt = db.get(CallAttempt, self.attempt_id)
            if attempt is None:
                raise LookupError(f"call attempt {self.attempt_id} does not exist")
            attempt.state = state
            attempt.dialled_at = self.dialled_at or attempt.dialled_at
            attempt.answered_at = self.answered_at
            attempt.ended_at = at
            attempt.end_reason = self.session.end_reason or ""
            attempt.session = self.session.to_json() if self.answered_at else None
            db.add(attempt)
            for answer, when in self.record.answers.values():
                db.add(Answer(attempt_id=self.attempt_id, contact_id=self.contact_id, question=answer.name,
                              node=answer.node, value=answer.value, keys=answer.keys, recorded_at=when))
            for escalate, when in self.record.escalations:
                self._escalate(db, escalate, when)
            if self.after_save is not None:
                self.after_save(db, attempt)
            db.commit()

    def _escalate(self, db: DbSession, escalate: Escalate, when: dt.datetime) -> None:
        """Open a case for the CDC, or add this call to the case still open for the same rule.

        A resident with symptoms is called every day; staff want one case per person and rule
        with each call on its timeline, not a new row a day.
        """
        open_case = None
        if self.contact_id is not None:
            open_case = db.exec(select(Escalation).where(
                Escalation.contact_id == self.contact_id, Escalation.flow == self.flow.name,
                Escalation.rule == escalate.rule, Escalation.status != EscalationStatus.RESOLVED,
            )).first()
        if open_case is not None:
            assert open_case.id is not None
            db.add(EscalationEvent(escalation_id=open_case.id, attempt_id=self.attempt_id, at=when, kind="again",
                                   text=escalate.reason))
            return
        case = Escalation(
            contact_id=self.contact_id, attempt_id=self.attempt_id, flow=self.flow.name, rule=escalate.rule,
            level=escalate.level, reason=escalate.reason, notify_cdc=escalate.notify_cdc,
            callback=escalate.callback, created_at=when,
        )
        db.add(case)
        db.flush()
        assert case.id is not None
        db.add(EscalationEvent(escalation_id=case.id, attempt_id=self.attempt_id, at=when, kind="created",
                               text=f"{self.flow.name}: {escalate.rule}"))
