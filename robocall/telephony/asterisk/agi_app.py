"""What the FastAGI server does with each call: find its handler, then let IvrCall drive it.

* ``agi://.../outbound``: an answered outbound call; the attempt id is the channel variable
  ROBOCALL_ATTEMPT, its flow ROBOCALL_FLOW and the dial time ROBOCALL_DIALLED (set by the Originate).  AMD() ran
  before: AMDSTATUS=MACHINE ends the attempt as `machine` without playing the flow.
* ``agi://.../inbound?did=N``: a hotline call; the caller id becomes the E.164 phone and the
  number dialled picks the flow (HOTLINE_FLOWS, else the default hotline flow).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping

from robocall.logging_setup import bind_log_context, mask_phone
from robocall.models import CallState
from robocall.phones import normalize
from robocall.telephony.asterisk.fastagi import AgiChannel
from robocall.telephony.asterisk.ivr import IvrCall, utcnow
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.base import CallHandlers

log = logging.getLogger(__name__)


class AgiApplication:
    def __init__(self, handlers: CallHandlers, prompts: RenderedPrompts, hotline_flows: Mapping[str, str],
                 default_hotline_flow: str = "hotline", region: str = "VN") -> None:
        self.handlers = handlers
        self.prompts = prompts
        self.hotline_flows = hotline_flows
        self.default_hotline_flow = default_hotline_flow
        self.region = region
        self.calls = 0
        self.active: set[int] = set()  # attempts whose AGI session is running here

    async def __call__(self, agi: AgiChannel) -> None:
        self.calls += 1
        if agi.script == "outbound":
            await self.outbound(agi)
        elif agi.script == "inbound":
            await self.inbound(agi)
        else:
            log.error("FastAGI: unknown script %r from %s; hanging up", agi.script, agi.env.get("agi_channel"))
            await agi.hangup()

    async def outbound(self, agi: AgiChannel) -> None:
        raw = await agi.get_variable("ROBOCALL_ATTEMPT")
        if raw is None or not raw.isdigit():
            log.error("FastAGI outbound call on %s without a valid ROBOCALL_ATTEMPT (%r); hanging up",
                      agi.env.get("agi_channel"), raw)
            await agi.hangup()
            return
        bind_log_context(attempt_id=raw)  # this call's records, the recording's included, name the attempt
        flow = await agi.get_variable("ROBOCALL_FLOW") or ""
        dialled_raw = await agi.get_variable("ROBOCALL_DIALLED")
        dialled = _parse_time(dialled_raw) or utcnow()
        amd = await agi.get_variable("AMDSTATUS")
        handler = await asyncio.to_thread(self.handlers.outbound, int(raw), dialled)
        flow = flow or getattr(getattr(handler, "flow", None), "name", "")  # an Originate without ROBOCALL_FLOW
        self.active.add(int(raw))
        try:
            if amd == "MACHINE":
                await agi.hangup()
                await asyncio.to_thread(handler.ended, CallState.MACHINE, utcnow())
                return
            await IvrCall(agi, handler, self.prompts.for_flow(flow)).run()
        finally:
            self.active.discard(int(raw))

    async def inbound(self, agi: AgiChannel) -> None:
        did = agi.query.get("did", "")
        flow = self.hotline_flows.get(did, self.default_hotline_flow)
        caller = agi.env.get("agi_callerid", "")
        try:
            phone = normalize(caller, self.region, require_mobile=False).e164 if caller.strip("+").isdigit() else ""
        except ValueError:
            phone = ""
        handler = await asyncio.to_thread(self.handlers.inbound, phone, utcnow(), flow)
        if handler is None:
            log.info("hotline call from %s refused: that person is on a call already", mask_phone(phone))
            await agi.command('EXEC Busy "3"', 10)
            return
        attempt_id = getattr(handler, "attempt_id", None)
        if attempt_id is not None:
            bind_log_context(attempt_id=attempt_id)
            self.active.add(attempt_id)
        try:
            await IvrCall(agi, handler, self.prompts.for_flow(flow)).run()
        finally:
            self.active.discard(attempt_id)  # type: ignore[arg-type]


def _parse_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
