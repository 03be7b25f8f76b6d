"""The simulated phone network: the default backend, placing calls in virtual time.

`run_call` runs one whole call synchronously and returns at once: the line
rings, the resident picks up (or not), hears the prompts and presses keys, all
on a virtual clock that starts at `request.at`.  Every random choice comes
from a `random.Random` seeded by (network seed, phone, dial time), so a call
comes out the same whichever worker places it and in whatever order.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from robocall.flows.engine import (
    Action,
    Digits,
    Event,
    Gather,
    HangUp,
    Hangup,
    Say,
    Timeout,
)
from robocall.flows.loader import Flow
from robocall.models import CallState
from robocall.telephony.base import CallHandler, CallRequest
from simulator.keypad import respond
from simulator.population import Profile, Resident, resident_for

SPEECH_CHARS_PER_SECOND = 14.0
RING_TIMEOUT = 30.0  # seconds the network lets a phone ring before giving up
MAX_EVENTS = 60  # a handler that never hangs up: the line is cut after this many events


@dataclass(frozen=True)
class CallResult:
    """How a call went on the line, as the network saw it."""

    state: CallState
    dialled_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime


class SimPhoneNetwork:
    def __init__(self, population: Mapping[str, Resident], seed: int, flows: Mapping[str, Flow],
                 timezone: str = "Asia/Ho_Chi_Minh", profile: Profile = "province") -> None:
        self.population = population
        self.seed = seed
        self.profile = profile
        self.flows = flows  # by name, for hosts that look a call's flow up here
        self.tz = ZoneInfo(timezone)

    def resident(self, phone: str) -> Resident:
        """The resident at `phone`; a number outside the population is drawn from the profile's mix."""
        found = self.population.get(phone)
        return found if found is not None else resident_for(phone, self.seed, self.profile)

    def rng_for(self, request: CallRequest) -> random.Random:
        # A string seed is hashed with SHA-512 by `random`, so it is stable across processes.
        return random.Random(f"{self.seed}|{request.phone}|{_utc(request.at).isoformat()}")

    def run_call(self, request: CallRequest, handler: CallHandler, flow: Flow,
                 exposure_date: dt.date | None) -> CallResult:
        """The whole outbound call, from dialling to hang-up, in virtual time."""
        rng = self.rng_for(request)
        resident = self.resident(request.phone)
        dialled = _utc(request.at)
        local = dialled.astimezone(self.tz)
        state, ring = _line_outcome(resident, local.time(), rng)
        t = dialled + _seconds(rng.uniform(1.0, 3.0) + ring)  # post-dial delay, then ringing
        if state != CallState.ANSWERED:
            handler.ended(state, t)
            return CallResult(state, dialled, None, t)

        answered = t
        day_index = (local.date() - exposure_date).days if exposure_date else 0
        truth = resident.truth(day_index, rng, exposure_date)
        t = self._converse(handler, flow, resident, truth, local.date(), answered, rng)
        # Answered means `completed` on the line, however the flow ended; the session says why.
        handler.ended(CallState.COMPLETED, t)
        return CallResult(CallState.COMPLETED, dialled, answered, t)

    def receive_call(self, request: CallRequest, handler: CallHandler, flow: Flow) -> CallResult:
        """A resident dials in (the hotline): the server answers at once and the flow runs."""
        rng = self.rng_for(request)
        resident = self.resident(request.phone)
        answered = _utc(request.at)
        local = answered.astimezone(self.tz)
        truth = resident.truth(0, rng, None)
        t = self._converse(handler, flow, resident, truth, local.date(), answered, rng)
        handler.ended(CallState.COMPLETED, t)
        return CallResult(CallState.COMPLETED, answered, answered, t)

    def _converse(self, handler: CallHandler, flow: Flow, resident: Resident, truth: Mapping[str, Any],
                  today: dt.date, t: dt.datetime, rng: random.Random) -> dt.datetime:
        """Play the call from pick-up to hang-up; returns the virtual time it ended."""
        actions: list[Action] = handler.answered(t)
        habits = resident.habits()
        for _ in range(MAX_EVENTS):
            gather: Gather | None = None
            for action in actions:
                if isinstance(action, Say):
                    t += _seconds(len(action.text) / SPEECH_CHARS_PER_SECOND)
                elif isinstance(action, Gather):
                    gather = action
                elif isinstance(action, HangUp):
                    return t
            if gather is None:
                # Nothing asked and no hang-up: the resident hears silence and hangs up.
                event: Event = Hangup()
                t += _seconds(rng.uniform(3.0, 8.0))
            else:
                event = respond(flow, gather, today, rng, habits, truth)
                t += _seconds(_response_time(event, gather, resident, rng))
            actions = handler.event(event, t)
            if isinstance(event, Hangup):
                return t
        return t  # the event cap: the network drops a call that never ends


def _line_outcome(resident: Resident, local_time: dt.time, rng: random.Random) -> tuple[CallState, float]:
    """What the line does after dialling, and how many seconds it takes to get there."""
    if rng.random() < resident.fail_rate:
        return CallState.FAILED, rng.uniform(0.5, 5.0)
    if rng.random() < resident.busy_rate:
        return CallState.BUSY, rng.uniform(1.0, 4.0)
    if rng.random() < resident.answer_probability(local_time):
        return CallState.ANSWERED, min(RING_TIMEOUT - 1, rng.gammavariate(2.0, 4.0) + 2.0)  # mostly 5-15 s
    if rng.random() < resident.machine_rate:
        return CallState.MACHINE, rng.uniform(15.0, 25.0) + rng.uniform(2.0, 5.0)  # voicemail, then detection
    return CallState.NO_ANSWER, RING_TIMEOUT + rng.uniform(0.0, 2.0)


def _response_time(event: Event, gather: Gather, resident: Resident, rng: random.Random) -> float:
    """Seconds from the end of the prompt to the event."""
    if isinstance(event, Timeout):
        return float(gather.timeout)
    if isinstance(event, Hangup):
        return rng.uniform(0.5, 3.0)
    assert isinstance(event, Digits)
    first, per_key = ((3.0, 8.0), (0.8, 2.0)) if resident.slow_presser else ((1.0, 4.0), (0.3, 0.9))
    return rng.uniform(*first) + sum(rng.uniform(*per_key) for _ in event.digits[1:])


def _seconds(value: float) -> dt.timedelta:
    # Whole milliseconds, so times round-trip through databases unchanged.
    return dt.timedelta(milliseconds=round(value * 1000))


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
