"""What every telephony backend talks to: a CallHandler that owns the flow session.

A backend turns line events (answered, keys, silence, hang-up) into calls on
the handler and carries out the actions the handler returns (say, gather,
hang up).  The simulator, Asterisk (FastAGI) and Twilio (webhooks) all drive
the same handler, so one flow behaves the same on all three.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from robocall.flows.engine import Action, Event
from robocall.models import CallState


class CallHandler(Protocol):
    def answered(self, at: dt.datetime) -> list[Action]:
        """The callee picked up; returns the first prompts and gather."""

    def event(self, event: Event, at: dt.datetime) -> list[Action]:
        """Keys, silence or the callee hanging up; returns what to do next."""

    def ended(self, state: CallState, at: dt.datetime) -> None:
        """The line is closed: `state` is completed, busy, no_answer, failed or machine."""


@dataclass(frozen=True)
class CallRequest:
    attempt_id: int
    phone: str  # E.164
    caller_id: str
    at: dt.datetime  # when the dial starts (virtual time on the simulator)


@dataclass(frozen=True)
class CallResult:
    """How a call went on the line, as the backend saw it."""

    state: CallState
    dialled_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime
