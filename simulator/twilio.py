"""A local Twilio Messaging API for tests: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

It answers as Twilio documents (https://www.twilio.com/docs/messaging/api/message-resource):
HTTP Basic auth ``AccountSid:AuthToken`` (401, error 20003 otherwise); form
parameters ``To``, ``From`` or ``MessagingServiceSid``, ``Body``, ``StatusCallback``;
201 with the Message resource (``sid`` "SM" + 32 hex, ``status`` queued, or
accepted with a Messaging Service); errors as Twilio's JSON ``{"code", "message",
"more_info", "status"}``.  Then it posts status callbacks (``sent``, then
``delivered`` or ``undelivered`` with an ErrorCode) to StatusCallback, form
encoded and signed with ``X-Twilio-Signature`` by the library's own
``RequestValidator.compute_signature``; :meth:`LocalTwilio.mo` posts an incoming
SMS to a messaging webhook the same way.

Like Twilio, it has no idempotency key: a resend is a second message.  It runs
in a thread with its own loop (as simulator/carriers.py), records what it
receives and can misbehave on purpose (throttle, fail, refuse numbers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BasicAuth, ClientError, ClientSession, web
from twilio.request_validator import RequestValidator

from robocall.text import measure
from simulator.carriers import LoopThread, free_port

API_VERSION = "2010-04-01"
_E164 = re.compile(r"\+[1-9]\d{6,14}")

def twilio_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error as Twilio's REST API answers it: ``{"code", "message", "more_info", "status"}``."""
    return web.json_response({"code": code, "message": message,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                             status=status, headers=headers)


def signature_for(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it, with the library's own validator."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


async def post_as_twilio(session: ClientSession, auth_token: str, url: str, params: Mapping[str, str],
                         signature: str | None = None, via: tuple[str, str] | None = None,
                         ) -> tuple[str, int, str, str]:
    """Post a webhook as Twilio does: form-encoded, signed over the URL it was given (`signature`: send
    this one instead, "" for none), through a reverse proxy when `via` = (public prefix, local prefix).
    Returns (where it went, status, content type, body); status 0 when nothing answered."""
    sign = signature_for(auth_token, url, params) if signature is None else signature
    target = via[1] + url[len(via[0]):] if via and url.startswith(via[0]) else url
    headers = {"X-Twilio-Signature": sign} if sign else {}
    try:
        async with session.post(target, data=dict(params), headers=headers) as response:
            return target, response.status, response.content_type, await response.text()
    except (ClientError, OSError):
        return target, 0, "", ""


def account_authorised(request: web.Request, account_sid: str, auth_token: str) -> bool:
    """HTTP Basic ``AccountSid:AuthToken``, for the account named in the path."""
    try:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        return False
    return (auth.login, auth.password) == (account_sid, auth_token) and request.match_info["account_sid"] == account_sid

@dataclass
class Callback:
    url: str  # where it was posted (after `via`)
    params: dict[str, str]
    status: int  # our server's answer (0: could not connect)
    content_type: str = ""
    body: str = ""


@dataclass
class LocalTwilio:
    """Twilio's Messages API, with knobs to misbehave."""

    port: int = field(default_factory=free_port)
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "local-auth-token"
    throttle_first: int = 0  # 429 / 20429 for the first N requests
    retry_after: str | None = None  # Retry-After header of those 429s
    fail_first: int = 0  # 500 / 20500 for the first N requests
    invalid_numbers: set[str] = field(default_factory=set)  # 400 / 21211 (any non-E.164 To too)
    landline_numbers: set[str] = field(default_factory=set)  # 400 / 21614
    unsubscribed_numbers: set[str] = field(default_factory=set)  # 400 / 21610 (replied STOP to Twilio)
    undelivered_numbers: dict[str, str] = field(default_factory=dict)  # To -> ErrorCode of its `undelivered`
    delay: float = 0.0  # answer this late (the message is created first, as Twilio would)
    report: bool = True  # post status callbacks
    via: tuple[str, str] | None = None  # (public prefix, local prefix): a reverse proxy before the webhooks
    requests: int = 0
    unauthorized: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)  # every Message created (resource JSON)
    sent_to: Counter[str] = field(default_factory=Counter)  # To -> messages created
    callbacks: list[Callback] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0  # most requests being answered at once

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalTwilio:
        self._loop = LoopThread()
        self._tasks: set[asyncio.Task[None]] = set()
        self._counter = itertools.count(1)
        self._loop.call(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json", self._create)
        self._runner, self._session = await self._loop.serve(app, self.port)

    def stop(self) -> None:
        self._loop.close_web(self._runner, self._session, self._tasks)

    def gateway_config(self, *, status_callback: str | None = None, rate: float = 5000, concurrency: int = 20,
                       timeout: float = 2.0, **extra: Any) -> dict[str, Any]:
        config: dict[str, Any] = {"kind": "twilio", "account_sid": self.account_sid, "auth_token": self.auth_token,
                                  "api_base": self.api_base, "rate": rate, "concurrency": concurrency,
                                  "timeout": timeout, **extra}
        if status_callback:
            config["status_callback"] = status_callback
        return config

    # --- the API ---

    @staticmethod
    def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return twilio_error(status, code, message, headers)

    def _authorised(self, request: web.Request) -> bool:
        return account_authorised(request, self.account_sid, self.auth_token)

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request)
            if self.delay:
                await asyncio.sleep(self.delay)
            return response
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            self.unauthorized += 1
            return self._error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if self.throttle_first > 0:
            self.throttle_first -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return self._error(429, 20429, "Too Many Requests", headers)
        if self.fail_first > 0:
            self.fail_first -= 1
            return self._error(500, 20500, "Internal Server Error")
        form = await request.post()
        to, sender, service = str(form.get("To", "")), str(form.get("From", "")), str(form.get("MessagingServiceSid", ""))
        body = str(form.get("Body", ""))
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not _E164.fullmatch(to) or to in self.invalid_numbers:
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in self.landline_numbers:
            return self._error(400, 21614, f"'To' number {to} is not a valid mobile number")
        if to in self.unsubscribed_numbers:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        message = self._resource(to, sender, service, body)
        self.messages.append(message)
        self.sent_to[to] += 1
        callback = str(form.get("StatusCallback", ""))
        if callback and self.report:
            task = asyncio.get_running_loop().create_task(self._report(callback, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(message, status=201)

    def _resource(self, to: str, sender: str, service: str, body: str) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))  # "Thu, 12 Aug 2021 01:00:00 +0000"
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sender or None,
            "messaging_service_sid": service or None, "num_media": "0",
            "num_segments": str(measure(body).segments), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued" if sender else "accepted", "to": to, "uri": f"{base}.json",
            "subresource_uris": {"media": f"{base}/Media.json"},
        }

    # --- webhooks to our server ---

    async def _report(self, url: str, message: dict[str, Any]) -> None:
        params = {"MessageSid": message["sid"], "SmsSid": message["sid"], "AccountSid": self.account_sid,
                  "From": message["from"] or "", "To": message["to"], "ApiVersion": API_VERSION}
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        await self._post(url, {**params, "MessageStatus": "sent", "SmsStatus": "sent"})
        error = self.undelivered_numbers.get(message["to"])
        final = {"MessageStatus": "undelivered", "SmsStatus": "undelivered", "ErrorCode": error} if error else \
            {"MessageStatus": "delivered", "SmsStatus": "delivered"}
        await self._post(url, {**params, **final})

    def signature(self, url: str, params: dict[str, str]) -> str:
        return signature_for(self.auth_token, url, params)

    async def _post(self, url: str, params: dict[str, str], signature: str | None = None) -> Callback:
        target, status, content_type, text = await post_as_twilio(self._session, self.auth_token, url, params,
                                                                  signature, self.via)
        callback = Callback(target, params, status, content_type, text)
        self.callbacks.append(callback)
        return callback

    def mo(self, url: str, phone: str, text: str, to: str = "+842436000000",
           signature: str | None = None) -> tuple[int, str, str]:
        """A person texts our number: Twilio posts to the messaging webhook `url`.
        Returns (status, content type, body) of our answer.  `signature`: send this one instead ("" for none)."""
        sid = "SM" + uuid.uuid4().hex
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": self.account_sid,
                  "From": phone, "To": to, "Body": text, "NumMedia": "0", "NumSegments": "1",
                  "SmsStatus": "received", "ApiVersion": API_VERSION}

        async def post() -> tuple[int, str, str]:
            callback = await self._post(url, params, signature)
            return callback.status, callback.content_type, callback.body
        result: tuple[int, str, str] = self._loop.call(post())
        return result

    def post_status(self, url: str, params: dict[str, str], signature: str | None = None) -> int:
        """Post a status callback by hand (`signature`: a forged one, or "" for none)."""
        async def post() -> int:
            return (await self._post(url, params, signature)).status
        result: int = self._loop.call(post())
        return result

    def callback_statuses(self) -> Counter[str]:
        """(MessageStatus) -> callbacks our server answered with 2xx."""
        return Counter(c.params.get("MessageStatus", "") for c in self.callbacks if 200 <= c.status < 300)
