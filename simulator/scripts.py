"""Residents' scripts: what a simulated resident does on each call of a day, fixed in advance.

The simulator plays a resident live, deciding at every question (`network.py`, `keypad.py`).  A real
phone system cannot ask the simulator what to press next, so for Asterisk the same decisions are
drawn beforehand: the k-th call of the day to a number is played once by the simulator's own network
(`SimPhoneNetwork.run_call`, same residents, same keypad, seeded by (seed, phone, k)) against the
flow engine, and what the resident did is kept as a `CallScript`: how the line went and, for an
answered call, the keys (or silence, or a hang-up) at each question in turn.  The flow engine is
deterministic, so replaying those events asks the same questions again.

A script is then played by `ScriptedBackend` on the simulator (below) or turned into dialplan for a
real Asterisk (`simulator/asterisk_residents.py`): both give the database the same calls.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.flows.engine import (
    Action,
    Answered,
    Digits,
    Event,
    Gather,
    Hangup,
    Session,
    Timeout,
    advance,
    contact_fields,
    new_session,
)
from robocall.flows.loader import Flow
from robocall.models import Answer, CallAttempt, CallCampaign, CallState, Contact, Escalation
from robocall.telephony.base import CallHandlers, CallRequest
from simulator.network import SimPhoneNetwork

HANGUP = "hangup"
SILENCE = ""
FIRST_CALL = dt.time(9, 0)  # the virtual local time of a day's first call; the next ones an hour apart


@dataclass(frozen=True)
class Step:
    """What the resident does at one question: keys as the line takes them, "" (silence) or "hangup"."""

    keys: str
    digits: str = ""  # what the IVR hands the engine for those keys (no finishing key); "" is silence
    key_gap: float = 0.25  # seconds between two keys (slow pressers take longer)


@dataclass(frozen=True)
class CallScript:
    """One call as the resident plays it.  `line` is ANSWERED for a person who picks up, else the
    line's outcome (busy, no_answer, failed, machine); `ring` is how long it rang first (seconds)."""

    line: CallState
    ring: float = 0.0
    steps: tuple[Step, ...] = ()
    # What the call must leave in the database, as the flow engine took the steps:
    end_reason: str = ""  # how the flow ended (answered calls only)
    answers: tuple[tuple[str, Any], ...] = ()  # (question, value), sorted
    escalations: tuple[str, ...] = ()  # the rules that fired, sorted

    def event(self, step: Step) -> Event:
        if step.keys == HANGUP:
            return Hangup()
        return Digits(step.digits) if step.digits else Timeout()


@dataclass(frozen=True)
class Person:
    """A contact as the scripts need it: the flow their campaign calls them with and their fields."""

    phone: str  # E.164
    flow: str
    name: str = ""
    category: str = ""
    exposure_date: dt.date | None = None
    language: str | None = None


def line_keys(digits: str, gather: Gather) -> str:
    """The keys the resident presses for a gather: up to its max digits, then the finishing key if they
    pressed it (after a full number too, as the prompts ask); keys beyond are never heard."""
    finish = gather.finish_on_key or ""
    kept = ""
    for key in digits:
        if finish and key in finish:
            return kept + key
        if len(kept) >= gather.max_digits:
            break
        kept += key
    return kept


def engine_digits(keys: str, gather: Gather) -> str:
    """What an IVR gives the engine for `keys`: the finishing key removed."""
    finish = gather.finish_on_key or ""
    return keys[:-1] if finish and keys.endswith(finish) else keys


class _Recorder:
    """A CallHandler that runs the flow engine with no database and keeps what the resident did."""

    def __init__(self, flow: Flow, fields: dict[str, Any], language: str | None, key_gap: float) -> None:
        self.flow = flow
        self.session: Session = new_session(flow, fields, language)
        self.gather: Gather | None = None
        self.steps: list[Step] = []
        self.answered_at: dt.datetime | None = None
        self.key_gap = key_gap
        self.state: CallState | None = None

    def _advance(self, event: Event) -> list[Action]:
        self.session, actions = advance(self.flow, self.session, event)
        self.gather = next((a for a in actions if isinstance(a, Gather)), None)
        return actions

    def answered(self, at: dt.datetime) -> list[Action]:
        self.answered_at = at
        return self._advance(Answered())

    def event(self, event: Event, at: dt.datetime) -> list[Action]:
        if isinstance(event, Digits) and self.gather is not None:
            keys = line_keys(event.digits, self.gather)
            digits = engine_digits(keys, self.gather)
            self.steps.append(Step(keys, digits, self.key_gap))
            event = Digits(digits) if digits else Timeout()
        elif isinstance(event, Hangup):
            self.steps.append(Step(HANGUP, "", self.key_gap))
        else:
            self.steps.append(Step(SILENCE, "", self.key_gap))
        return self._advance(event)

    def ended(self, state: CallState, at: dt.datetime) -> None:
        self.state = state


def day_scripts(network: SimPhoneNetwork, person: Person, flow: Flow, day: dt.date, calls: int) -> list[CallScript]:
    """The resident's first `calls` calls of `day`, as the simulator plays them."""
    resident = network.resident(person.phone)
    fields = contact_fields(today=day, name=person.name, category=person.category,
                            exposure_date=person.exposure_date, phone=person.phone)
    found = []
    for k in range(calls):
        local = dt.datetime.combine(day, FIRST_CALL, network.tz) + dt.timedelta(hours=k)
        at = local.astimezone(dt.UTC)
        recorder = _Recorder(flow, fields, person.language, 0.6 if resident.slow_presser else 0.25)
        result = network.run_call(CallRequest(0, person.phone, "", at, flow.name), recorder, flow,
                                  person.exposure_date)
        ring = ((result.answered_at or result.ended_at) - result.dialled_at).total_seconds()
        if result.answered_at is not None:
            session = recorder.session
            found.append(CallScript(CallState.ANSWERED, ring, tuple(recorder.steps), session.end_reason or "",
                                    tuple(sorted(session.answers.items())), tuple(sorted(session.fired))))
        else:
            found.append(CallScript(result.state, ring))
    return found


def campaign_scripts(network: SimPhoneNetwork, people: Sequence[Person], flows: Mapping[str, Flow], day: dt.date,
                     calls: int) -> dict[str, list[CallScript]]:
    """By phone: the scripts of each person's first `calls` calls of the day (the daily cap)."""
    return {p.phone: day_scripts(network, p, flows[p.flow], day, calls) for p in people}


class ScriptedBackend:
    """PhoneBackend of the simulated network that plays each number's scripts in order, in
    `place_call`: the k-th call to a number plays its k-th script through the handler."""

    def __init__(self, scripts: Mapping[str, Sequence[CallScript]], handlers: CallHandlers) -> None:
        self.scripts = scripts
        self.handlers = handlers
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def place_call(self, request: CallRequest) -> None:
        with self._lock:
            index = self.calls[request.phone]
            self.calls[request.phone] += 1
        script = self.scripts[request.phone][index]
        handler = self.handlers.outbound(request.attempt_id, request.at)
        now = dt.datetime.now(dt.UTC)
        if script.line != CallState.ANSWERED:
            handler.ended(script.line, now)
            return
        handler.answered(now)
        for step in script.steps:
            handler.event(script.event(step), dt.datetime.now(dt.UTC))
            if step.keys == HANGUP:
                break
        handler.ended(CallState.COMPLETED, dt.datetime.now(dt.UTC))

    def hang_up(self, attempt_id: int) -> None:
        """Nothing to do: a scripted call has ended by the time `place_call` returns."""


def people_of(engine: Engine) -> list[Person]:
    """Every contact an active campaign calls, with its campaign's flow (the contact list as the world knows it)."""
    with DbSession(engine) as db:
        flow_of = {category.strip(): campaign.flow
                   for campaign in db.exec(select(CallCampaign).where(CallCampaign.status == "active")).all()
                   for category in campaign.categories.split(",") if category.strip()}
        return [Person(c.phone, flow_of[c.category], c.name, c.category, c.exposure_date, c.language or None)
                for c in db.exec(select(Contact).order_by(col(Contact.id))).all() if c.category in flow_of]


def placed(day: Sequence[CallScript]) -> list[CallScript]:
    """The scripts a day actually plays: calls until a person picks up (retries up to the cap)."""
    answered = next((i for i, script in enumerate(day) if script.line == CallState.ANSWERED), len(day) - 1)
    return list(day[:answered + 1])


def scripted(script: CallScript) -> tuple[Any, ...]:
    """What the script says the call's attempt must be: as `recorded_calls` gives it."""
    if script.line == CallState.ANSWERED:
        return ("completed", script.end_reason, script.answers, script.escalations)
    return (str(script.line), "", (), ())


def recorded_calls(engine: Engine) -> dict[tuple[str, int], tuple[Any, ...]]:
    """By (phone, attempt number): line state, how the flow ended, answers, escalation rules."""
    with DbSession(engine) as db:
        found = {}
        for attempt in db.exec(select(CallAttempt)).all():
            # JSON columns give 37 back as 37.0 on one database and 37 on another: compare as Python does.
            answers = tuple(sorted((a.question, a.value) for a in db.exec(
                select(Answer).where(Answer.attempt_id == attempt.id))))
            rules = tuple(sorted(e.rule for e in db.exec(select(Escalation).where(Escalation.attempt_id == attempt.id))))
            found[(attempt.phone, attempt.attempt_number)] = (str(attempt.state), attempt.end_reason, answers, rules)
        return found
