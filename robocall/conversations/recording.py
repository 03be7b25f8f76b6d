"""Writing down what a flow session produced: answers, escalations, and the flow's SMS.

One function for every channel: a phone call (RecordingCallHandler, outbound or hotline) and a
health declaration by SMS (robocall/conversations/sms_declaration.py) are written the same way, so CDC staff see them
the same way (the dashboard reads CallAttempt, Answer, Escalation and EscalationEvent).  The
caller opens the transaction and commits it: the attempt, its answers, its escalations and its
SMS (robocall/conversations/outbox.py) are written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.conversations.outbox import Purpose, send_sms
from robocall.flows.engine import Action, Escalate, RecordAnswer, SendSms, Session
from robocall.models import (
    Answer,
    CallAttempt,
    CallState,
    Escalation,
    EscalationEvent,
    EscalationStatus,
)


@dataclass
class CallRecord:
    """What a session produced, collected from the engine's actions."""

    # by question: a menu visited twice (9 = repeat) keeps the caller's last choice
    answers: dict[str, tuple[RecordAnswer, dt.datetime]] = field(default_factory=dict)
    escalations: list[tuple[Escalate, dt.datetime]] = field(default_factory=list)
    sms: list[tuple[SendSms, dt.datetime]] = field(default_factory=list)

    def collect(self, actions: Iterable[Action], at: dt.datetime) -> None:
        for action in actions:
            if isinstance(action, RecordAnswer):
                self.answers[action.name] = (action, at)
            elif isinstance(action, Escalate):
                self.escalations.append((action, at))
            elif isinstance(action, SendSms):
                self.sms.append((action, at))

    # A dialogue by SMS spans many messages: its answers so far wait in the database as JSON.
    # (Escalations and SMS only come when a session ends, so they never need to wait.)
    def answers_json(self) -> dict[str, Any]:
        return {name: {"value": a.value, "node": a.node, "keys": a.keys, "at": at.isoformat()}
                for name, (a, at) in self.answers.items()}

    @classmethod
    def from_answers_json(cls, data: dict[str, Any]) -> CallRecord:
        return cls(answers={name: (RecordAnswer(name, item["value"], item["node"], item["keys"]),
                                   dt.datetime.fromisoformat(item["at"])) for name, item in data.items()})

    # A phone call answered over webhooks (Twilio) also spans many requests, and its last one may
    # already bring the escalations and SMS: everything waits in the database until the line closes.
    def to_json(self) -> dict[str, Any]:
        return {"answers": self.answers_json(),
                "escalations": [{**asdict(e), "at": at.isoformat()} for e, at in self.escalations],
                "sms": [{**asdict(s), "at": at.isoformat()} for s, at in self.sms]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        record = cls.from_answers_json(data.get("answers", {}))
        record.escalations = [(Escalate(**{k: v for k, v in e.items() if k != "at"}),
                               dt.datetime.fromisoformat(e["at"])) for e in data.get("escalations", [])]
        record.sms = [(SendSms(**{k: v for k, v in s.items() if k != "at"}), dt.datetime.fromisoformat(s["at"]))
                      for s in data.get("sms", [])]
        return record


# The note an attempt keeps when an answering machine took the call and the flow's voicemail was played.
VOICEMAIL_LEFT = "machine: voicemail left"


@dataclass(frozen=True)
class LineClosed:
    """How a phone call ended, as its host saw it: what `write_call` writes besides the record."""

    state: CallState
    at: dt.datetime
    dialled_at: dt.datetime | None
    answered_at: dt.datetime | None
    session: Session | None  # None when nobody answered (or a machine did): nothing of the flow is kept
    reason: str = ""  # why a call that was never answered ended so (a provider's error), else the flow's


def write_call(db: DbSession, attempt_id: int, contact_id: int | None, flow: str, closed: LineClosed,
               record: CallRecord) -> CallAttempt:
    """Write a phone call whose line has closed, in db's transaction (the caller commits): the attempt's
    line state and session, its answers, escalations and SMS.  Shared by every host of a call: the
    in-memory handler (the simulator, Asterisk) and the one resumed between webhooks (Twilio)."""
    attempt = db.get(CallAttempt, attempt_id)
    if attempt is None:
        raise LookupError(f"call attempt {attempt_id} does not exist")
    attempt.state = closed.state
    attempt.dialled_at = closed.dialled_at or attempt.dialled_at
    attempt.answered_at = closed.answered_at
    attempt.ended_at = closed.at
    session = closed.session if closed.answered_at else None
    attempt.end_reason = (session.end_reason if session else None) or closed.reason
    attempt.session = session.to_json() if session else None
    db.add(attempt)
    if session is not None:
        # Answers, escalations, and the flow's SMS to the number on the line (queued once this commits).
        save_record(db, attempt, contact_id, flow, record)
    return attempt


def save_record(db: DbSession, attempt: CallAttempt, contact_id: int | None, flow: str, record: CallRecord) -> None:
    """Write `record` for `attempt` (already in `db`, with its id) in db's transaction; the caller commits."""
    assert attempt.id is not None
    for answer, when in record.answers.values():
        db.add(Answer(attempt_id=attempt.id, contact_id=contact_id, question=answer.name, node=answer.node,
                      value=answer.value, keys=answer.keys, recorded_at=when))
    for escalate, when in record.escalations:
        open_or_join_case(db, contact_id, attempt.id, flow, escalate, when)
    for sms, when in record.sms:
        # To the number on the line: the person called, or the hotline caller's own number.
        send_sms(db, attempt.phone, sms.text, Purpose.ESCALATION, at=when)


def open_or_join_case(db: DbSession, contact_id: int | None, attempt_id: int | None, flow: str,
                      escalate: Escalate, when: dt.datetime) -> int:
    """Open a case for the CDC, or add this attempt to the case still open for the same rule.

    A resident with symptoms is called every day; staff want one case per person and rule
    with each call on its timeline, not a new row a day.
    """
    open_case = None
    if contact_id is not None:
        open_case = db.exec(select(Escalation).where(
            Escalation.contact_id == contact_id, Escalation.flow == flow,
            Escalation.rule == escalate.rule, Escalation.status != EscalationStatus.RESOLVED,
        )).first()
    if open_case is not None:
        assert open_case.id is not None
        db.add(EscalationEvent(escalation_id=open_case.id, attempt_id=attempt_id, at=when, kind="again",
                               text=escalate.reason))
        return open_case.id
    case = Escalation(
        contact_id=contact_id, attempt_id=attempt_id, flow=flow, rule=escalate.rule, level=escalate.level,
        reason=escalate.reason, notify_cdc=escalate.notify_cdc, callback=escalate.callback, created_at=when,
    )
    db.add(case)
    db.flush()
    assert case.id is not None
    db.add(EscalationEvent(escalation_id=case.id, attempt_id=attempt_id, at=when, kind="created",
                           text=f"{flow}: {escalate.rule}" if flow else escalate.rule))
    return case.id


HOME_VISIT_REASON = {
    "vi": "Không liên lạc được {days} ngày liên tiếp: đề nghị trạm y tế xã đến nhà",
    "en": "Not reached for {days} days in a row: the commune health station should visit",
}


def escalate_home_visit(db: DbSession, contact_id: int, days: int, when: dt.datetime) -> int:
    """A contact not reached for `days` days in a row: a home-visit case for the commune health station.

    Written like a flow's escalation (one open case per person and rule, joined while it is open),
    but by the dialer when a day closes, so it has no call and no flow.  The reason is stored in
    Vietnamese, the language staff read cases in.
    """
    visit = Escalate(rule=f"unreachable_{days}_days", level="home_visit",
                     reason=HOME_VISIT_REASON["vi"].format(days=days), notify_cdc=True, callback=False)
    return open_or_join_case(db, contact_id, None, "", visit, when)
