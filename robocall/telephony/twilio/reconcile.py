"""Calls whose final status callback never arrived (our server was down, the network failed): asked of Twilio.

Twilio does not post a status callback again.  An attempt left `dialling`, `ringing` or `answered`
would hold a channel and block its contact (one active call per contact) for good, so
`robocall twilio reconcile` (run it every few minutes from cron or a systemd timer) fetches each call
open for longer than a call can last and closes the ones Twilio has finished, exactly as their final
status callback would have (the answers given are kept, the flow's rules checked).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from twilio.base.exceptions import TwilioRestException

from robocall.config import Settings
from robocall.conversations.resumable import ResumableCalls
from robocall.models import CallState, utcnow
from robocall.telephony.twilio import api

log = logging.getLogger(__name__)
CALL_LIMIT = dt.timedelta(minutes=30)  # no follow-up call lasts this long


NO_CALL_ID = "no Twilio call id: its worker was lost while placing it (found by reconcile)"


def reconcile(settings: Settings, calls: ResumableCalls, older_than: dt.timedelta = CALL_LIMIT) -> int:
    """Close the calls Twilio has finished; returns how many."""
    return asyncio.run(_reconcile(settings, calls, older_than))


async def _reconcile(settings: Settings, calls: ResumableCalls, older_than: dt.timedelta) -> int:
    open_calls = await asyncio.to_thread(calls.open_calls, utcnow() - older_than)
    if not open_calls:
        return 0
    client = api.client(settings)
    closed = 0
    try:
        for attempt_id, sid in open_calls:
            if not sid:
                # Marked dialling, and no call id from Twilio since: its worker died before Twilio answered
                # the request (or the request never left).  Nothing Twilio carries: closed, the ladder retries.
                if await asyncio.to_thread(calls.close, attempt_id, CallState.FAILED, utcnow(), NO_CALL_ID):
                    closed += 1
                continue
            try:
                call = await client.calls(sid).fetch_async()
            except TwilioRestException as exc:
                if exc.status != 404:
                    log.warning("call %s (%s): Twilio could not tell its status: %s", attempt_id, sid, exc.msg)
                    continue
                status, ended = "failed", None  # Twilio does not know the call: it never existed there
            else:
                status, ended = str(call.status), call.end_time
            state = api.FINAL_STATUS.get(status)
            if state is None:
                continue  # still queued, ringing or on the line
            reason = "" if state != CallState.FAILED else f"twilio {status} (found by reconcile)"
            if await asyncio.to_thread(calls.close, attempt_id, state, ended or utcnow(), reason):
                closed += 1
    finally:
        await api.close(client)
    return closed
