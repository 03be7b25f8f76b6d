"""TELEPHONY_BACKEND=twilio: outbound calls through Twilio's REST API; the call itself runs on webhooks.

`place_call` (in an RQ worker) waits for its slot of the account's calls per second (a pace in
Redis shared by every worker, robocall/pace.py), then asks Twilio to dial with the attempt id in
every URL: the voice URL (the flow starts when the callee picks up), status callbacks (initiated,
ringing, answered, completed) and asynchronous answering-machine detection (the flow starts at
once; a machine is hung up on, or left the flow's voicemail, and retried by the ladder; a flow
with a voicemail is placed with MachineDetection=DetectMessageEnd, so the machine's answer comes
once its greeting has ended).  Twilio taking the call moves the
attempt to `dialling`; from then on the webhooks (webhooks.py, in the web server) carry it.

Twilio's refusals (api.py `refusal`): throttling (429 / 20429, a full call queue 22005), server
errors, time-outs and the network are tried again within the job, the pace backing off for every
worker, longer each try; when that does not help the attempt ends `failed` with Twilio's code and
message as its reason, and the dialer's ladder tries again later.  An invalid number (21211, 21217,
21214) or a country the account may not call (21215, 21216, 13227) is a permanent failure: the
reason starts with `permanent: ` (robocall.models.PERMANENT_FAILURE), the ladder does not try that
number again, and the report counts it for staff to fix.  Every refusal is written through the
call's handler like any call that was not answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from redis import Redis
from sqlalchemy.engine import Engine

from robocall.config import Settings
from robocall.conversations.resumable import ResumableCalls
from robocall.flows.loader import Flow
from robocall.logging_setup import mask_phone
from robocall.models import utcnow
from robocall.pace import Pace
from robocall.queues import queue_name
from robocall.telephony.base import CallHandlers, CallRequest
from robocall.telephony.twilio import api

log = logging.getLogger(__name__)
TRIES = 4  # calls.create attempts within one job for throttling, 5xx and network errors
RING_SECONDS = 30  # how long Twilio lets the phone ring (the simulator's network uses the same)


def pace_for(settings: Settings, redis: Redis) -> Pace:
    return Pace(redis, f"{queue_name('calls')}:pace:twilio", settings.twilio_calls_per_second,
                burst_seconds=0.0, what="TWILIO_CALLS_PER_SECOND")


class TwilioVoiceBackend:
    def __init__(self, settings: Settings, calls: ResumableCalls, handlers: CallHandlers, pace: Pace) -> None:
        if not settings.twilio_account_sid or not settings.twilio_auth_token:
            raise ValueError("TELEPHONY_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.settings = settings
        self.calls = calls  # the attempt's line state between webhooks
        self.handlers = handlers  # a call Twilio refused is written like any other unanswered call
        self.pace = pace
        self.urls = api.Urls(settings.public_base_url)

    # --- PhoneBackend ---

    def place_call(self, request: CallRequest) -> None:
        caller_id = request.caller_id or self.settings.twilio_from_number
        refused: api.Refusal | None = None
        for tried in range(TRIES):
            wait = self.pace.reserve(1)
            if wait > 0:
                time.sleep(wait)
            # Marked dialling just before Twilio is asked (once: a second run of the job asks nothing).
            if tried == 0 and not self.calls.start_dialling(request.attempt_id, utcnow(), caller_id):
                log.info("call %s is not queued any more; not placed again", request.attempt_id)
                return
            try:
                sid = asyncio.run(self._create(request, caller_id))
            except Exception as exc:  # noqa: BLE001 - api.refusal re-raises what is not Twilio's or the network's
                refused = api.refusal(exc)
                log.warning("call %s to %s: %s", request.attempt_id, mask_phone(request.phone), refused.reason)
                if not refused.retry_now or tried + 1 == TRIES:
                    break
                self.pace.back_off(refused.wait * 2 ** tried)  # 1, 2, 4 s
                continue
            self.calls.dialling(request.attempt_id, sid, utcnow(), caller_id)
            log.info("call %s to %s: dialling (%s)", request.attempt_id, mask_phone(request.phone), sid)
            return
        assert refused is not None
        handler = self.handlers.outbound(request.attempt_id, request.at)
        handler.ended(refused.state, utcnow(), reason=refused.reason)

    def hang_up(self, attempt_id: int) -> None:
        for open_id, sid in self.calls.open_calls():
            if open_id == attempt_id and sid:
                asyncio.run(end_call(self.settings, sid))

    def capacity(self) -> int | None:
        return None  # Twilio limits calls per second (the pace), not calls at once

    # --- inside ---

    async def _create(self, request: CallRequest, caller_id: str) -> str:
        client = api.client(self.settings)
        try:
            amd = self.settings.twilio_machine_detection
            flow = self.calls.flows.get(request.flow)
            if amd and flow is not None and flow.spec.voicemail:
                amd = "DetectMessageEnd"  # the voicemail is left once the greeting (and its beep) has ended
            # The library's async client does not apply its own `timeout` to requests (twilio 9.x passes
            # None to aiohttp, whose default is 5 minutes): TWILIO_TIMEOUT is kept here.
            created = await asyncio.wait_for(client.calls.create_async(
                to=request.phone, from_=caller_id, url=self.urls.answer(request.attempt_id), method="POST",
                status_callback=self.urls.status(request.attempt_id), status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                timeout=RING_SECONDS,
                **({"machine_detection": amd, "async_amd": "true",
                    "async_amd_status_callback": self.urls.amd(request.attempt_id),
                    "async_amd_status_callback_method": "POST"} if amd else {}),
            ), self.settings.twilio_timeout)
        finally:
            await api.close(client)
        if not created.sid:
            raise ValueError("twilio: no Call SID in the answer")
        return str(created.sid)


async def end_call(settings: Settings, call_sid: str) -> None:
    """Hang up a call Twilio has on the line (a machine answered, or the dialer asks)."""
    client = api.client(settings)
    try:
        await client.calls(call_sid).update_async(status="completed")
    finally:
        await api.close(client)


async def leave_voicemail(settings: Settings, call_sid: str, twiml: str) -> None:
    """Replace what a call does with `twiml` (the flow's voicemail, then a hang-up)."""
    client = api.client(settings)
    try:
        await client.calls(call_sid).update_async(twiml=twiml)
    finally:
        await api.close(client)


def twilio_backend(settings: Settings, engine: Engine, flows: Mapping[str, Flow],
                   handlers: CallHandlers) -> TwilioVoiceBackend:
    """The backend factory for TELEPHONY_BACKEND=twilio (registered by robocall.wiring)."""
    calls = ResumableCalls(engine, flows, settings.tzinfo)
    return TwilioVoiceBackend(settings, calls, handlers, pace_for(settings, Redis.from_url(settings.redis_url)))
