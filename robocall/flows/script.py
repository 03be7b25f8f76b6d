"""Play a flow against a caller who follows a script of key presses.

Used by `robocall flows try`, by the golden tests, and by anyone who wants to
see what a call sounds like before it reaches a resident.  A script entry is
the keys pressed at one question (`"1"`, `"375#"`), an empty string for
silence, or `hangup`.  When the script runs out the caller stays silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from robocall.flows.engine import (
    Action,
    Answered,
    Digits,
    Escalate,
    Event,
    Gather,
    HangUp,
    Hangup,
    RecordAnswer,
    Say,
    SendSms,
    Timeout,
    advance,
    contact_fields,
    new_session,
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


def run_script(flow: Flow, keys: list[str], fields: dict[str, Any] | None = None, language: str | None = None) -> Transcript:
    """Play `flow` against a caller who presses `keys` in order, then stays silent."""
    script = list(keys)

    def next_event(_: Gather) -> Event:
        entry = script.pop(0) if script else ""
        if entry.lower() == HANGUP:
            return Hangup()
        return Timeout() if entry == "" else Digits(entry)

    return run_call(flow, next_event, fields, language)


def run_call(flow: Flow, next_event: Callable[[Gather], Event], fields: dict[str, Any] | None = None,
             language: str | None = None, max_events: int = 10_000) -> Transcript:
    """Play `flow` with `next_event` deciding what the caller does at each question."""
    session = new_session(flow, fields or sample_fields(), language)
    transcript = Transcript(flow.name, session.language)
    session, actions = advance(flow, session, Answered())
    _record(transcript, actions)
    for _ in range(max_events):  # a guard for the host, not the engine's step limit
        gather = next((a for a in reversed(actions) if isinstance(a, Gather)), None)
        if session.ended or gather is None:
            break
        event = next_event(gather)
        transcript.lines.append(_describe_event(event))
        session, actions = advance(flow, session, event)
        _record(transcript, actions)
    transcript.end_reason = session.end_reason
    transcript.steps = session.steps
    return transcript


def _describe_event(event: Event) -> str:
    if isinstance(event, Hangup):
        return "☎  (hangs up)"
    if isinstance(event, Digits):
        return f"☎  presses {event.digits}"
    return "☎  (silence)"


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
