"""Twilio's REST API for calls: the client, the URLs our webhooks live at, and what Twilio's errors mean.

The library's ``AsyncTwilioHttpClient`` (aiohttp) with ``calls.create_async``; ``api_base`` is the
``base_url`` of the library's ``Api`` domain (a local peer in tests).  A client belongs to the event
loop it was made on: the web server keeps one, a worker makes one per call (a call a second or so
does not need a pool).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from robocall.config import Settings
from robocall.logging_setup import mask_phones_in_text
from robocall.models import PERMANENT_FAILURE, CallState

PREFIX = "/twilio/voice"  # where robocall/web/app.py mounts the webhooks

THROTTLED_CODES = {20429, 22005}  # too many requests; the account's call queue is full
# Twilio says the number called is wrong: 21211 invalid 'To', 21217 not a valid phone number, 21214
# 'To' cannot be reached, 13224 invalid number.
INVALID_NUMBER_CODES = {21211, 21217, 21214, 13224}
CALLER_ID_CODES = {21212, 21210}  # our From is invalid or not the account's: configuration, not the contact
# Geographic permissions: calls to this country or number range are not enabled for the account.
PERMISSION_CODES = {21215, 21216, 13227}
AUTH_CODES = {20003, 20404}


def client(settings: Settings) -> Client:
    """A REST client on the running event loop."""
    made = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                  http_client=AsyncTwilioHttpClient(timeout=settings.twilio_timeout))
    made.api.base_url = settings.twilio_api_base.rstrip("/")
    return made


async def close(made: Client) -> None:
    http = made.http_client
    if isinstance(http, AsyncTwilioHttpClient):
        await http.close()


class Urls:
    """The public URLs of a call's webhooks: what Twilio is given, and what it signs."""

    def __init__(self, public_base_url: str) -> None:
        self.base = public_base_url.rstrip("/") + PREFIX

    def answer(self, attempt_id: int) -> str:
        return f"{self.base}/{attempt_id}/answer"

    def status(self, attempt_id: int) -> str:
        return f"{self.base}/{attempt_id}/status"

    def amd(self, attempt_id: int) -> str:
        return f"{self.base}/{attempt_id}/amd"

    def gather(self, attempt_id: int, turn: int, flow: str, node: str | None) -> str:
        # The question is named for people reading logs (and the local peer's residents, who hear it).
        return f"{self.base}/{attempt_id}/gather/{turn}" + _question(flow, node)

    def silence(self, attempt_id: int, turn: int, flow: str, node: str | None) -> str:
        return f"{self.base}/{attempt_id}/silence/{turn}" + _question(flow, node)

    @property
    def inbound(self) -> str:
        return f"{self.base}/inbound"

    @property
    def inbound_status(self) -> str:
        return f"{self.base}/inbound/status"


def _question(flow: str, node: str | None) -> str:
    return f"?{urlencode({'flow': flow, 'node': node})}" if flow and node else ""


@dataclass(frozen=True)
class Refusal:
    """Why Twilio did not take a call, and what to do about it."""

    state: CallState  # how the attempt ends when no retry succeeds
    reason: str
    retry_now: bool  # worth trying again within the same job (throttled, a server error, the network)
    wait: float = 0.0  # seconds before that try (Retry-After, or a back-off)
    permanent: bool = False  # the number cannot be called as it is: no retry by the ladder either


def refusal(exc: BaseException, retry_after: float | None = None) -> Refusal:
    """Twilio's error (or the network's) as an attempt outcome."""
    if isinstance(exc, TwilioRestException):
        status, code = exc.status, exc.code
        # Twilio's message names the number: masked, as everywhere a person may read it.
        text = mask_phones_in_text(str(exc.msg).removeprefix("Unable to create record: "))
        reason = (f"twilio {code}: {text}" if code else f"twilio HTTP {status}: {text}")[:200]
        if status == 429 or code in THROTTLED_CODES:
            return Refusal(CallState.FAILED, reason + " (rate limited)", True, retry_after or 1.0)
        if status >= 500 or status == 408:
            return Refusal(CallState.FAILED, reason + " (Twilio unavailable)", True, retry_after or 1.0)
        if code in INVALID_NUMBER_CODES:
            return Refusal(CallState.FAILED, f"{PERMANENT_FAILURE}invalid number: {reason}", False, permanent=True)
        if code in PERMISSION_CODES:
            return Refusal(CallState.FAILED, f"{PERMANENT_FAILURE}not allowed by geographic permissions "
                                             f"(enable Vietnam in the Twilio console, Voice > Settings > Geo "
                                             f"permissions): {reason}", False, permanent=True)
        if code in CALLER_ID_CODES:
            return Refusal(CallState.FAILED, reason + " (check TWILIO_FROM_NUMBER / CALLER_IDS)", False)
        if status == 401 or code in AUTH_CODES:
            return Refusal(CallState.FAILED, reason + " (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)", False)
        return Refusal(CallState.FAILED, reason, False)
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return Refusal(CallState.FAILED, f"twilio: {type(exc).__name__} {exc}".strip()[:200], True, 1.0)
    raise exc


# A call's final CallStatus as the attempt's line state.
FINAL_STATUS = {
    "completed": CallState.COMPLETED, "busy": CallState.BUSY, "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED, "canceled": CallState.FAILED,
}
