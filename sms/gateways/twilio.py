"""Twilio Programmable Messaging: one ``POST .../Messages.json`` per message, through the ``twilio`` library.

Config (``SMS_GATEWAYS``)::

    "twilio": {"kind": "twilio", "account_sid": "AC...", "auth_token": "...",
               "from": "CDC" | "+8424...",  or  "messaging_service_sid": "MG...",
               "status_callback": "https://cdc.example.vn/sms/twilio/twilio/status",
               "inbound_url": "https://cdc.example.vn/sms/twilio/twilio/inbound",
               "rate": 100, "concurrency": 50, "timeout": 10}

``from`` wins over SMS_SENDER; with only a Messaging Service, Twilio picks the
sender from its pool.  ``status_callback`` and ``inbound_url`` default to
PUBLIC_BASE_URL + ``/sms/twilio/{gateway}/status|inbound``: they are also the
URLs the webhooks (sms/web.py) check ``X-Twilio-Signature`` against, since
behind a proxy the URL our server sees is not the one Twilio signed.
``api_base`` (default https://api.twilio.com) points the client elsewhere (the
local peer in tests): it is the ``base_url`` of the library's ``Api`` domain.

Concurrency: the library's ``AsyncTwilioHttpClient`` (aiohttp) and
``messages.create_async``, ``concurrency`` requests in flight on the worker's
background loop (sms/gateways/loop.py); the sync client would send one at a time.

Answers: 201 -> accepted, ``gateway_message_id`` = the Message SID (its status
callbacks carry it).  HTTP 429 / error 20429 -> throttled (Retry-After
honoured); 5xx, timeouts, connection errors and 401 / 20003 (bad credentials)
-> transient, so the circuit breaker pauses the gateway instead of failing a
million messages on a wrong key; any other 4xx (21211 invalid To, 21614 not a
mobile number, 21610 the person replied STOP to Twilio...) -> rejected with
``twilio <code>: <message>`` as the reason.

**A message may go twice.** Twilio's Messages API has no idempotency key: a
message whose request was on the wire when its worker died, or whose answer
timed out, is sent again after SMS_SUBMIT_LEASE_SECONDS (or as a transient
retry) and Twilio will send it again.  At most the chunk in flight (sms/send.py
CHUNK) is in doubt after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from robocall.config import TWILIO_API
from robocall.logging_setup import mask_phone
from sms.gateways.base import Outcome, Outgoing, SendResult
from sms.gateways.loop import run

log = logging.getLogger(__name__)
# The library logs four INFO lines per request; at campaign rates that drowns everything else.
_http_log = logging.getLogger(f"{__name__}.http")
_http_log.setLevel(logging.WARNING)

THROTTLED_CODES = {20429}
AUTH_CODES = {20003}
_AUTH_REASONS = ("twilio 20003", "twilio 401", "twilio HTTP 401")
# The raw answer of the request made by the current task: TwilioRestException drops the headers (Retry-After).
_answers: ContextVar[list[Response] | None] = ContextVar("twilio_answers", default=None)


class _HttpClient(AsyncTwilioHttpClient):
    """The library's aiohttp client with a connection pool sized to our concurrency, its timeout
    actually applied (the async client ignores its own), and each answer kept for the calling task."""

    def __init__(self, timeout: float, connections: int) -> None:
        super().__init__(pool_connections=False, timeout=timeout, logger=_http_log)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> Response:
        response = await super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                         timeout=timeout or self.timeout, allow_redirects=allow_redirects)
        kept = _answers.get()
        if kept is not None:
            kept.append(response)
        return response


class TwilioGateway:
    def __init__(self, name: str, account_sid: str, auth_token: str, *, from_: str = "",
                 messaging_service_sid: str = "", status_callback: str = "", api_base: str = TWILIO_API,
                 concurrency: int = 50, timeout: float = 10.0) -> None:
        if not account_sid or not auth_token:
            raise ValueError(f"gateway {name}: twilio needs account_sid and auth_token")
        self.name = name
        self.account_sid, self.auth_token = account_sid, auth_token
        self.from_, self.messaging_service_sid = from_, messaging_service_sid
        self.status_callback, self.api_base = status_callback, api_base
        self.concurrency, self.timeout = max(concurrency, 1), timeout
        self._client: Client | None = None

    def send(self, messages: list[Outgoing]) -> list[SendResult]:
        return run(self._send(messages))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                run(client.http_client.close(), timeout=10)  # type: ignore[attr-defined]
            except Exception:  # closing is best effort
                log.debug("twilio %s: close failed", self.name, exc_info=True)

    def _ready(self) -> Client:
        """Made on the background loop: the aiohttp session belongs to it."""
        if self._client is None:
            client = Client(self.account_sid, self.auth_token,
                            http_client=_HttpClient(self.timeout, self.concurrency))
            client.api.base_url = self.api_base
            self._client = client
        return self._client

    async def _send(self, messages: list[Outgoing]) -> list[SendResult]:
        client = self._ready()
        limit = asyncio.Semaphore(self.concurrency)

        async def one(message: Outgoing) -> SendResult:
            async with limit:
                return await self._create(client, message)

        results = list(await asyncio.gather(*(one(m) for m in messages)))
        refused = sum(1 for r in results if r.outcome == Outcome.TRANSIENT and r.reason.startswith(_AUTH_REASONS))
        if refused:
            log.warning("twilio %s: credentials refused for %d messages (retried later)", self.name, refused)
        return results

    async def _create(self, client: Client, message: Outgoing) -> SendResult:
        answers: list[Response] = []
        _answers.set(answers)  # each gathered coroutine is a task with its own context
        sender: object = self.from_ or (values.unset if self.messaging_service_sid else message.sender)
        try:
            created = await client.messages.create_async(
                to=message.phone, body=message.text, from_=sender,
                messaging_service_sid=self.messaging_service_sid or values.unset,
                status_callback=self.status_callback or values.unset)
        except TwilioRestException as exc:
            return self._refused(message, exc.status, exc.code, str(exc.msg), answers)
        except TwilioServiceException as exc:
            return self._refused(message, exc.status, exc.code, str(exc.detail or exc.title), answers)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            # No connection made: nothing reached Twilio, no try counted (sms.gateways.base).
            outcome = Outcome.UNREACHABLE if isinstance(exc, aiohttp.ClientConnectorError) else Outcome.TRANSIENT
            return SendResult(message.id, outcome, reason=f"twilio: {type(exc).__name__} {exc}".strip())
        if not created.sid:
            return SendResult(message.id, Outcome.TRANSIENT, reason="twilio: no Message SID in the answer")
        return SendResult(message.id, Outcome.ACCEPTED, created.sid)

    def _refused(self, message: Outgoing, status: int, code: int | None, text: str,
                 answers: list[Response]) -> SendResult:
        text = text.removeprefix("Unable to create record: ")
        reason = f"twilio {code}: {text}"[:200] if code else f"twilio HTTP {status}: {text}"[:200]
        if status == 429 or code in THROTTLED_CODES:
            headers = answers[-1].headers if answers else None
            return SendResult(message.id, Outcome.THROTTLED, reason=reason,
                              retry_after=_seconds((headers or {}).get("Retry-After")))
        if status >= 500 or status in (401, 408) or code in AUTH_CODES:
            return SendResult(message.id, Outcome.TRANSIENT, reason=reason)
        log.debug("twilio %s: %s refused: %s", self.name, mask_phone(message.phone), reason)
        return SendResult(message.id, Outcome.REJECTED, reason=reason)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
