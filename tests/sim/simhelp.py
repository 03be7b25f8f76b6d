"""A tiny in-test CallHandler that wraps the pure engine and records what the network did."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from robocall.flows import Flow, load_flow
from robocall.flows.engine import (
    Action,
    Answered,
    Event,
    Session,
    advance,
    contact_fields,
    new_session,
)
from robocall.models import CallState
from robocall.telephony.base import CallRequest
from simulator.population import Resident

FLOWS_DIR = Path(__file__).parents[2] / "ivr_flows"
FOLLOWUP: Flow = load_flow(FLOWS_DIR / "f1_f2_followup.yaml")
RETURNEE: Flow = load_flow(FLOWS_DIR / "returnee_check.yaml")
FLOWS = {FOLLOWUP.name: FOLLOWUP, RETURNEE.name: RETURNEE}

EXPOSED = dt.date(2021, 8, 10)
AFTERNOON = dt.datetime(2021, 8, 15, 8, 0, tzinfo=dt.UTC)  # 15:00 in Asia/Ho_Chi_Minh

# Picks up every time and answers every question truthfully.
PERFECT = Resident(
    phone="+84900000001", key=1, answer_rate=1.0, morning=1.0, midday=1.0, evening=1.0,
    busy_rate=0.0, machine_rate=0.0, fail_rate=0.0, hangup_midcall_rate=0.0, silence_rate=0.0,
    wrong_key_rate=0.0, relative_answers_rate=0.0, needs_help_rate=0.0, away_rate=0.0,
)


def resident(**changes: Any) -> Resident:
    return dataclasses.replace(PERFECT, **changes)


def request(phone: str = PERFECT.phone, at: dt.datetime = AFTERNOON, attempt_id: int = 1) -> CallRequest:
    return CallRequest(attempt_id=attempt_id, phone=phone, caller_id="+842873000000", at=at, flow="f1_f2_followup")


class EngineHandler:
    """Drives the flow engine like the real handler would, minus the database."""

    def __init__(self, flow: Flow = FOLLOWUP, today: dt.date = dt.date(2021, 8, 15),
                 exposure_date: dt.date | None = EXPOSED, phone: str = PERFECT.phone) -> None:
        self.flow = flow
        self.session: Session = new_session(flow, contact_fields(
            today=today, name="Nguyễn Văn An", category="F1", exposure_date=exposure_date, phone=phone))
        self.log: list[tuple[Any, ...]] = []

    def answered(self, at: dt.datetime) -> list[Action]:
        self.log.append(("answered", at))
        return self._step(Answered())

    def event(self, event: Event, at: dt.datetime) -> list[Action]:
        self.log.append(("event", event, at))
        return self._step(event)

    def ended(self, state: CallState, at: dt.datetime) -> None:
        self.log.append(("ended", state, at))

    def _step(self, event: Event) -> list[Action]:
        self.session, actions = advance(self.flow, self.session, event)
        return actions

    @property
    def events(self) -> list[Event]:
        return [entry[1] for entry in self.log if entry[0] == "event"]

    @property
    def ended_with(self) -> tuple[CallState, dt.datetime]:
        assert self.log and self.log[-1][0] == "ended"
        return self.log[-1][1], self.log[-1][2]
