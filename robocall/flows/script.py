"""Play a flow against a caller who follows a script of key presses.

Used by `robocall flows try`, by the golden tests, and by anyone who wants to
see what a call sounds like before it reaches a resident.  A script entry is
the keys pressed at one question (`"1"`, `"375#"`), an empty string for
silence, or `hangup`.  When the script runs out the caller stays silent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from robocall.flows.engine import (
    Action, Answered, Digits, Escalate, Gather, HangUp, Hangup, RecordAnswer, Say, SendSms, Session, Timeout,
    advance, contact_fields, new_session,
)
from robocall.flows.loader import Flow

HANGUP = "hangup"


@dataclass
class Transcript:
    flow: str
    language: str
    lines: list[str] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    sms: list[dict[str, Any]] = field(default_factory=list)
    end_reason: str | None = None
    steps: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return "\n".join(self.lines)


def parse_keys(spec: str) -> list[str]:
    """`"1,2,,375#,hangup"` -> ["1", "2", "", "375#", "hangup"]; spaces around entries are ignored."""
    if spec.strip() == "":
        return []
    return [entry.strip() for entry in spec.split(",")]


def sample_fields(today: dt.date | None = None) -> dict[str, Any]:
    """A fictitious resident, for trying flows by hand."""
    today = today or dt.date(2021, 8, 15)
    return contact_fields(
        today=today, name="Nguyễn Văn An", category="F1", district="Thành phố Huế", commune="Phường Phú Hội",
        exposure_date=today - dt.timedelta(days=5), phone="+84912345678",
    )


def run_script(flow: Flow, keys: list[str], fields: dict[str, Any] | None = None, language: str | None = None,
               max_events: int = 10_000) -> Transcript:
    session = new_session(flow, fields or sample_fields(), language)
    transcript = Transcript(flow.name, session.language)
    session, actions = advance(flow, session, Answered())
    _record(transcript, actions)
    script = list(keys)
    for _ in range(max_events):  # a guard for the host, not the engine's step limit
        if session.ended:
            break
        entry = script.pop(0) if script else ""
        if entry.lower() == HANGUP:
            transcript.lines.append("☎  (hangs up)")
            event: Hangup | Digits | Timeout = Hangup()
        elif entry == "":
            transcript.lines.append("☎  (silence)")
            event = Timeout()
        else:
            transcript.lines.append(f"☎  presses {entry}")
            event = Digits(entry)
        session, actions = advance(flow, session, event)
        _record(transcript, actions)
    _finish(transcript, session)
    return transcript


def _record(transcript: Transcript, actions: list[Action]) -> None:
    for action in actions:
        if isinstance(action, Say):
            marker = {"prompt": "🤖", "no_input": "🤖 (silence)", "invalid": "🤖 (wrong key)"}[action.kind]
            source = f" [audio {action.audio}]" if action.audio else ""
            transcript.lines.append(f"{marker} {action.text}{source}")
        elif isinstance(action, Gather):
            finish = f", ends with {action.finish_on_key}" if action.finish_on_key else ""
            transcript.lines.append(f"   … waits {action.timeout}s for up to {action.max_digits} key(s){finish}")
        elif isinstance(action, RecordAnswer):
            transcript.answers[action.name] = action.value
            transcript.lines.append(f"   ✎ {action.name} = {action.value!r}")
        elif isinstance(action, Escalate):
            transcript.escalations.append(asdict(action))
            transcript.lines.append(f"   ⚠ escalate {action.level}: {action.reason} (rule {action.rule})")
        elif isinstance(action, SendSms):
            transcript.sms.append(asdict(action))
            transcript.lines.append(f"   ✉ SMS: {action.text}")
        elif isinstance(action, HangUp):
            transcript.lines.append(f"🤖 (hangs up: {action.reason})")


def _finish(transcript: Transcript, session: Session) -> None:
    transcript.end_reason = session.end_reason
    transcript.steps = session.steps
