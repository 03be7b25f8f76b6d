"""The phone-backend interface: what the dialer asks of a telephony backend, and what a backend drives.

A call is placed by a `PhoneBackend` (the simulator today; Asterisk through AMI and FastAGI, Twilio
through its REST API and webhooks).  While the line is open, the backend reports line events to a
`CallHandler` (answered, keys, silence, hang-up) and carries out the actions the handler returns
(say, gather, hang up); when the line closes it tells the handler how (`ended`), which writes the
whole call in one transaction.  Backends get their handlers from a `CallHandlers` source
(robocall.conversations.calls), given to them by the composition root: the simulator runs the whole
call at once inside `place_call`, a real network later, from the backend's own process.
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

    def ended(self, state: CallState, at: dt.datetime, reason: str = "") -> None:
        """The line is closed: `state` is completed, busy, no_answer, failed or machine; `reason` says
        why a call nobody answered ended so, when the backend knows (a provider's error)."""


@dataclass(frozen=True)
class CallRequest:
    attempt_id: int
    phone: str  # E.164
    caller_id: str
    at: dt.datetime  # when the dial starts (virtual time on the simulator)
    flow: str  # the flow's name: what the call will say


class CallHandlers(Protocol):
    """Where a backend gets the handler of a call (robocall.conversations.calls.RecordedCalls)."""

    def outbound(self, attempt_id: int, dialled_at: dt.datetime) -> CallHandler:
        """The handler of a queued outbound attempt."""

    def inbound(self, phone: str, at: dt.datetime, flow: str, line: str = "") -> CallHandler | None:
        """A new inbound call from `phone` to the hotline number `line` running `flow`; None when that
        person is already on a call (refused as busy, recorded as a missed call)."""

    def refused(self, phone: str, at: dt.datetime, flow: str, line: str = "", reason: str = "busy") -> int:
        """A hotline call refused before the menu (every channel busy, the call service full),
        recorded as a missed call; its attempt id."""


class PhoneBackend(Protocol):
    def place_call(self, request: CallRequest) -> None:
        """Hand the call to the network.  Its line events then go to `handlers.outbound(...)`."""

    def hang_up(self, attempt_id: int) -> None:
        """End the call of `attempt_id` if it is still on the line (a no-op once it has ended)."""

    def capacity(self) -> int | None:
        """The most calls the network lets us carry at once right now (the Asterisk servers that are
        up), inbound ones included; None when it sets no limit of its own (the dialer's MAX_CHANNELS
        alone then decides)."""
