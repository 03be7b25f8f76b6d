"""What the FastAGI server does with each call: find its handler, then let IvrCall drive it.

* ``agi://.../outbound``: an answered outbound call; the attempt id is the channel variable
  ROBOCALL_ATTEMPT, its flow ROBOCALL_FLOW and the dial time ROBOCALL_DIALLED (set by the Originate).  AMD() ran
  before: AMDSTATUS=MACHINE ends the attempt as `machine` without playing the flow, after leaving the
  flow's `voicemail` (if it has one) once the greeting has ended (WaitForSilence).
* ``agi://.../inbound?did=N``: a hotline call, not answered yet; the caller id becomes the E.164
  phone (an unknown number becomes a contact of category `other`) and the number dialled picks the
  flow (HOTLINE_FLOWS, else the default hotline flow).  Answered here, unless that person is on
  another call or `max_calls` sessions run already: then refused busy before answering and
  recorded as a missed call (robocall/conversations/hotline.py).
* ``agi://.../check``: `robocall asterisk check` testing that this Asterisk reaches the server; nothing.
* ``agi://.../missed?did=N&why=channels``: the dialplan refused a hotline call (every channel of the
  server in use); only recorded as a missed call, the dialplan then plays Busy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping

from robocall.conversations.recording import VOICEMAIL_LEFT
from robocall.flows.engine import VOICEMAIL_NODE, voicemail
from robocall.logging_setup import bind_log_context, mask_phone
from robocall.models import CallState
from robocall.phones import normalize
from robocall.telephony.asterisk.fastagi import AgiChannel, AgiError, quote
from robocall.telephony.asterisk.ivr import PROMPT_TIMEOUT, IvrCall, utcnow
from robocall.telephony.asterisk.prompts import RenderedPrompts, missing_prompt
from robocall.telephony.base import CallHandlers

log = logging.getLogger(__name__)

VOICEMAIL_SILENCE_MS = 1200  # the machine's greeting (and its beep) has ended after this much silence
VOICEMAIL_GREETING_MAX_S = 20  # the message is left after this long even if the greeting never ends


class AgiApplication:
    def __init__(self, handlers: CallHandlers, prompts: RenderedPrompts, hotline_flows: Mapping[str, str],
                 default_hotline_flow: str = "hotline", region: str = "VN", max_calls: int = 0) -> None:
        self.handlers = handlers
        self.prompts = prompts
        self.hotline_flows = hotline_flows
        self.default_hotline_flow = default_hotline_flow
        self.region = region
        self.max_calls = max_calls  # sessions at once beyond which a hotline call is refused (0: no limit)
        self.calls = 0
        self.active: set[int] = set()  # attempts whose AGI session is running here

    async def __call__(self, agi: AgiChannel) -> None:
        self.calls += 1
        if agi.script == "outbound":
            await self.outbound(agi)
        elif agi.script == "inbound":
            await self.inbound(agi)
        elif agi.script == "missed":
            await self.missed(agi)
        elif agi.script == "check":  # `robocall asterisk check`: this Asterisk reaches us; nothing to do
            log.info("FastAGI: reached by %s for a check", agi.env.get("agi_channel"))
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
                note = ""
                try:
                    language = getattr(getattr(handler, "session", None), "language", None)
                    note = await self.leave_voicemail(agi, flow, language)
                    await agi.hangup()
                except AgiError as exc:  # the machine is recorded whatever the line did meanwhile
                    log.info("machine on %s: %s", agi.env.get("agi_channel"), exc)
                await asyncio.to_thread(handler.ended, CallState.MACHINE, utcnow(), note)
                return
            await IvrCall(agi, handler, self.prompts.for_flow(flow)).run()
        finally:
            self.active.discard(int(raw))

    async def leave_voicemail(self, agi: AgiChannel, flow_name: str, language: str | None) -> str:
        """The flow's voicemail, played once the machine's greeting has ended (AMD says MACHINE while
        it still plays); the note the attempt keeps ("" when the flow leaves none)."""
        flow = self.prompts.flows.get(flow_name)
        say = voicemail(flow, language) if flow is not None else None
        if say is None:
            return ""
        try:
            await agi.command(f"EXEC WaitForSilence {VOICEMAIL_SILENCE_MS},1,{VOICEMAIL_GREETING_MAX_S}",
                              VOICEMAIL_GREETING_MAX_S + 10)
            name = await self.prompts.for_flow(flow_name)(say, VOICEMAIL_NODE)
            if name is None:
                missing_prompt(f"{VOICEMAIL_NODE}.prompt.{say.language}", agi.env.get("agi_channel", "?"))
                return "machine: voicemail not left (no audio)"
            played = await agi.command(f'STREAM FILE {quote(name)} ""', PROMPT_TIMEOUT)
        except AgiError as exc:
            log.info("voicemail on %s cut off: %s", agi.env.get("agi_channel"), exc)
            return "machine: voicemail cut off"
        if played.value < 0 or agi.hung_up:
            return "machine: voicemail cut off"
        return VOICEMAIL_LEFT

    async def inbound(self, agi: AgiChannel) -> None:
        did, flow, phone = self._hotline(agi)
        if self.max_calls and len(self.active) >= self.max_calls:
            log.warning("hotline call from %s refused: %d calls already run here", mask_phone(phone), len(self.active))
            await asyncio.to_thread(self.handlers.refused, phone, utcnow(), flow, did, "busy: the call service is full")
            await agi.command('EXEC Busy "3"', 10)
            return
        handler = await asyncio.to_thread(self.handlers.inbound, phone, utcnow(), flow, did)
        if handler is None:
            log.info("hotline call from %s refused: that person is on a call already", mask_phone(phone))
            await agi.command('EXEC Busy "3"', 10)
            return
        attempt_id = getattr(handler, "attempt_id", None)
        if attempt_id is not None:
            bind_log_context(attempt_id=attempt_id)
            self.active.add(attempt_id)
        try:
            try:
                if attempt_id is not None:  # on the channel, so reconciling after a crash sees the call is up
                    await agi.command(f"SET VARIABLE ROBOCALL_ATTEMPT {attempt_id}", 10)
                await agi.answer()  # the dialplan leaves it to us: a refused call is never answered (nor charged)
            except AgiError:  # the caller gave up before the answer: a missed call
                await asyncio.to_thread(handler.ended, CallState.NO_ANSWER, utcnow())
                return
            await IvrCall(agi, handler, self.prompts.for_flow(flow)).run()
        finally:
            self.active.discard(attempt_id)  # type: ignore[arg-type]

    async def missed(self, agi: AgiChannel) -> None:
        did, flow, phone = self._hotline(agi)
        why = {"channels": "busy: every channel in use"}.get(agi.query.get("why", ""), "busy")
        log.warning("hotline call from %s refused by the dialplan: %s", mask_phone(phone), why)
        await asyncio.to_thread(self.handlers.refused, phone, utcnow(), flow, did, why)

    def _hotline(self, agi: AgiChannel) -> tuple[str, str, str]:
        """(number dialled, its flow, the caller's E.164 number or "" when withheld)."""
        did = agi.query.get("did", "")
        flow = self.hotline_flows.get(did, self.default_hotline_flow)
        caller = agi.env.get("agi_callerid", "")
        try:
            phone = normalize(caller, self.region, require_mobile=False).e164 if caller.strip("+").isdigit() else ""
        except ValueError:
            phone = ""
        return did, flow, phone


def _parse_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
