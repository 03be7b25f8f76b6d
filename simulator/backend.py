"""The simulated network as a PhoneBackend: what TELEPHONY_BACKEND=sim gives the dialer.

A call placed here runs whole inside `place_call`, in virtual time, through the handler the
worker's `CallHandlers` give for the attempt, exactly as a real backend's events would reach it.
The residents' exposure dates (what they feel on which day of quarantine) are read from the
contact list, the simulated world's truth.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.campaigns.jobs import context
from robocall.config import Settings
from robocall.flows.loader import Flow
from robocall.logging_setup import mask_phone
from robocall.models import CallState, Contact
from robocall.telephony.base import CallHandlers, CallRequest
from simulator.network import SimPhoneNetwork

log = logging.getLogger(__name__)


class SimulatedBackend:
    def __init__(self, network: SimPhoneNetwork, handlers: CallHandlers, flows: Mapping[str, Flow],
                 engine: Engine) -> None:
        self.network = network
        self.handlers = handlers
        self.flows = flows
        self.engine = engine

    def place_call(self, request: CallRequest) -> None:
        handler = self.handlers.outbound(request.attempt_id, request.at)
        self.network.run_call(request, handler, self.flows[request.flow], self._exposure_date(request.phone))

    def hang_up(self, attempt_id: int) -> None:
        """Nothing to do: a simulated call has ended by the time `place_call` returns."""

    def capacity(self) -> int | None:
        return None  # the simulated trunk has as many lines as MAX_CHANNELS says

    def _exposure_date(self, phone: str) -> dt.date | None:
        with DbSession(self.engine) as db:
            return db.exec(select(Contact.exposure_date).where(Contact.phone == phone)).first()


def simulated_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                      handlers: CallHandlers) -> SimulatedBackend:
    """The backend factory for TELEPHONY_BACKEND=sim (registered by robocall.wiring)."""
    network = SimPhoneNetwork({}, seed=settings.sim_seed, flows=flows, timezone=settings.timezone,
                              profile=settings.sim_profile)
    return SimulatedBackend(network, handlers, flows, engine)


def hotline_call_job(phone: str, at_iso: str, flow_name: str = "hotline") -> str:
    """RQ job: a resident rings the hotline at `at` (the simulator's inbound calls)."""
    ctx = context()
    backend = ctx.backend
    if not isinstance(backend, SimulatedBackend):
        raise TypeError("simulated hotline calls need TELEPHONY_BACKEND=sim")
    at = dt.datetime.fromisoformat(at_iso)
    handler = ctx.calls.inbound(phone, at, flow_name)
    if handler is None:
        log.info("hotline call from %s: busy (on another call)", mask_phone(phone))
        return CallState.BUSY
    request = CallRequest(attempt_id=handler.attempt_id, phone=phone, caller_id="", at=at, flow=flow_name)
    result = backend.network.receive_call(request, handler, ctx.flows[flow_name])
    return str(result.state)
