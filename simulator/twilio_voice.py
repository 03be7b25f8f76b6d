"""A local Twilio Programmable Voice for tests: the Calls API, and residents who answer over our webhooks.

REST, as Twilio documents it (https://www.twilio.com/docs/voice/api/call-resource): HTTP Basic auth
``AccountSid:AuthToken`` (401 / 20003 otherwise);
``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` with ``To``, ``From``, ``Url``,
``StatusCallback``, ``StatusCallbackEvent`` (repeated), ``MachineDetection``, ``AsyncAmd``,
``AsyncAmdStatusCallback``, ``Timeout`` -> 201 with the Call resource (``sid`` "CA" + 32 hex,
``status`` queued); errors as Twilio's JSON (21211 invalid To, 21215 geographic permission,
20429 too many requests, 20500...).  ``POST .../Calls/{CallSid}.json`` with ``Status=completed``
hangs a call up; with ``Twiml`` it gives the call new instructions (kept in `twiml_updates`).

Then the call is played by the simulator's own network and residents (simulator/network.py,
population.py, keypad.py: the same line outcome, the same keys, drawn from the same seeded random
numbers as TELEPHONY_BACKEND=sim) through a `CallHandler` that is Twilio's webhook client: each
line event becomes the request Twilio would make, form-encoded and signed with
``X-Twilio-Signature`` by the library's ``RequestValidator.compute_signature``, and our TwiML answer
is read back into the actions the resident hears: status callbacks (initiated, ringing, answered,
completed with ``CallDuration``; busy, no-answer, failed), the voice URL, ``Digits`` to a Gather's
action (cut as Twilio cuts them: ``numDigits``, ``finishOnKey``), the ``<Redirect>`` after a
silent Gather, a hang-up mid-gather (no action, only the final status), and a machine: with
asynchronous AMD the voice URL, then ``AnsweredBy=machine_end_beep`` to the AMD callback.
A resident "hears" which question is asked from the gather URL's ``node`` (a person hears the
question itself).  Knobs: duplicate and late status callbacks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from robocall.flows.engine import Action, Digits, Event, Gather, HangUp, Hangup, Say
from robocall.flows.loader import Flow
from robocall.models import CallState
from robocall.telephony.base import CallRequest
from simulator.carriers import LoopThread, free_port
from simulator.network import SimPhoneNetwork
from simulator.twilio import account_authorised, post_as_twilio, signature_for, twilio_error

API_VERSION = "2010-04-01"
HOTLINE_NUMBER = "+842436000000"


@dataclass
class Posted:
    url: str
    params: dict[str, str]
    status: int
    body: str


@dataclass
class LocalTwilioVoice:
    network: SimPhoneNetwork
    exposure: Callable[[str], dt.date | None] = lambda phone: None  # the world's truth: a resident's exposure
    dial_time: Callable[[str], dt.datetime] | None = None  # the virtual dial time per number (else now)
    port: int = field(default_factory=free_port)
    account_sid: str = "AC" + "0" * 31 + "2"
    auth_token: str = "local-voice-token"
    invalid_numbers: set[str] = field(default_factory=set)  # 400 / 21211
    no_permission_numbers: set[str] = field(default_factory=set)  # 400 / 21215
    # Any of Twilio's errors for calls.create to a number: To -> (HTTP status, code, message)
    refuse: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    errors_first: list[tuple[int, int, str]] = field(default_factory=list)  # the first creates get these, in order
    slow_first: int = 0  # the first N creates answer only after `slow_seconds` (the client times out)
    slow_seconds: float = 0.0
    throttle_first: int = 0  # 429 / 20429 for the first N creates
    fail_first: int = 0  # 500 / 20500 for the first N creates
    duplicate_final: bool = False  # post every final status callback twice
    late_ringing: bool = False  # post a `ringing` status callback after the final one
    via: tuple[str, str] | None = None  # (public prefix, local prefix): a reverse proxy before our server
    numbers: set[str] = field(default_factory=lambda: {HOTLINE_NUMBER, "+842873000000"})  # the account's own
    requests: int = 0  # calls.create requests, answered or refused
    created: list[dict[str, Any]] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    hung_up: set[str] = field(default_factory=set)  # Call SIDs ended through the API
    twiml_updates: dict[str, str] = field(default_factory=dict)  # Call SID -> TwiML it was given (a voicemail)
    call_status: dict[str, str] = field(default_factory=dict)  # Call SID -> its final CallStatus
    drop_final: bool = False  # never post the final status callback (our server was down)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalTwilioVoice:
        self._loop = LoopThread()
        self._counter = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._loop.call(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get(f"/{API_VERSION}/Accounts/{{account_sid}}.json", self._account)
        app.router.add_get(f"/{API_VERSION}/Accounts/{{account_sid}}/IncomingPhoneNumbers.json", self._numbers)
        app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Calls.json", self._create)
        app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Calls/{{sid}}.json", self._update)
        app.router.add_get(f"/{API_VERSION}/Accounts/{{account_sid}}/Calls/{{sid}}.json", self._fetch_call)
        self._runner, self._session = await self._loop.serve(app, self.port)

    def stop(self) -> None:
        self.wait()
        self._loop.close_web(self._runner, self._session)

    def wait(self, timeout: float = 120) -> None:
        """Until every call placed so far has ended."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    # --- the REST API ---

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return twilio_error(status, code, message)

    def _authorised(self, request: web.Request) -> bool:
        return account_authorised(request, self.account_sid, self.auth_token)

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        if self.slow_first > 0:
            self.slow_first -= 1
            await asyncio.sleep(self.slow_seconds)
        if self.errors_first:
            status, code, message = self.errors_first.pop(0)
            return self._error(status, code, message)
        if self.throttle_first > 0:
            self.throttle_first -= 1
            return self._error(429, 20429, "Too Many Requests")
        if self.fail_first > 0:
            self.fail_first -= 1
            return self._error(500, 20500, "Internal Server Error")
        form = await request.post()
        to, sender, url = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Url", ""))
        if not to:
            return self._error(400, 21201, "No 'To' number is specified")
        if not sender:
            return self._error(400, 21213, "No 'From' number is specified")
        if not url:
            return self._error(400, 21205, "Url parameter is required.")
        if to in self.refuse:
            status, code, message = self.refuse[to]
            return self._error(status, code, message)
        if to in self.invalid_numbers or not to.startswith("+"):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to in self.no_permission_numbers:
            return self._error(400, 21215, f"Account not authorized to call {to}. Perhaps you need to enable "
                                           "some international permissions")
        sid = "CA" + uuid.uuid4().hex
        call = {"sid": sid, "account_sid": self.account_sid, "api_version": API_VERSION, "to": to,
                "from": sender, "status": "queued", "direction": "outbound-api", "answered_by": None,
                "start_time": None, "end_time": None, "duration": None, "price": None, "price_unit": "USD",
                "queue_time": "0", "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json",
                "date_created": None, "date_updated": None, "parent_call_sid": None,
                "phone_number_sid": None, "caller_name": None, "forwarded_from": None, "group_sid": None,
                "trunk_sid": None, "annotation": None, "subresource_uris": {}}
        options = {"Url": url, "StatusCallback": str(form.get("StatusCallback", "")),
                   "events": set(form.getall("StatusCallbackEvent", [])),
                   "amd": str(form.get("MachineDetection", "")), "async": str(form.get("AsyncAmd", "")) == "true",
                   "amd_url": str(form.get("AsyncAmdStatusCallback", ""))}
        self.created.append({**call, "params": {k: str(v) for k, v in form.items()}, "received": time.monotonic()})
        at = self.dial_time(to) if self.dial_time else dt.datetime.now(dt.UTC)
        line = _Line(self, sid, to, sender, options, inbound=False)
        self._play(lambda: self.network.run_call(CallRequest(0, to, sender, at, ""), line,
                                                 line.flow, self.exposure(to)), line)
        return web.json_response(call, status=201)

    async def _fetch_call(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        sid = request.match_info["sid"]
        found = next((c for c in self.created if c["sid"] == sid), None)
        if found is None:
            return self._error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
        resource = {k: v for k, v in found.items() if k not in ("params", "received")}
        return web.json_response({**resource, "status": self.call_status.get(sid, "in-progress")})

    async def _account(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        return web.json_response({"sid": self.account_sid, "friendly_name": "Local peer", "status": "active",
                                  "type": "Full", "auth_token": self.auth_token, "owner_account_sid": self.account_sid,
                                  "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json", "subresource_uris": {}})

    async def _numbers(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        wanted = request.query.get("PhoneNumber", "")
        found = [{"sid": "PN" + "0" * 32, "phone_number": number, "friendly_name": number,
                  "voice_url": "", "account_sid": self.account_sid} for number in sorted(self.numbers)
                 if not wanted or number == wanted]
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        return web.json_response({"incoming_phone_numbers": found, "end": max(len(found) - 1, 0), "page": 0,
                                  "page_size": 50, "start": 0, "uri": uri, "first_page_uri": uri,
                                  "next_page_uri": None, "previous_page_uri": None})

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        form = await request.post()
        sid = request.match_info["sid"]
        if str(form.get("Status", "")) == "completed":
            self.hung_up.add(sid)
        if form.get("Twiml"):  # the call now plays this (a voicemail to the machine), then hangs up
            self.twiml_updates[sid] = str(form["Twiml"])
        return web.json_response({"sid": sid, "status": "completed"})

    def _play(self, run: Callable[[], Any], line: _Line) -> None:
        thread = threading.Thread(target=run, daemon=True, name=f"twilio-call-{line.sid[-6:]}")
        with self._lock:
            self._threads.append(thread)
        thread.start()

    # --- the hotline ---

    def ring_hotline(self, phone: str, voice_url: str, status_url: str, at: dt.datetime | None = None,
                     missed: bool = False) -> None:
        """A resident calls the hotline number (its voice URL and status callback as set in the console).
        `missed`: they hang up while it rings, before Twilio fetches the voice URL."""
        sid = "CA" + uuid.uuid4().hex
        options = {"Url": voice_url, "StatusCallback": status_url, "events": {"completed"}, "amd": "",
                   "async": False, "amd_url": ""}
        line = _Line(self, sid, HOTLINE_NUMBER, phone, options, inbound=True)
        if missed:
            self._play(lambda: line.ended(CallState.NO_ANSWER, dt.datetime.now(dt.UTC)), line)
            return
        when = at or dt.datetime.now(dt.UTC)
        self._play(lambda: self.network.receive_call(CallRequest(0, phone, "", when, ""), line, line.flow), line)

    # --- webhooks to our server ---

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        return signature_for(self.auth_token, url, params)

    def post(self, url: str, params: dict[str, str], signature: str | None = None) -> Posted:
        """Post as Twilio does, signed over the URL it was given (`signature`: send this one, "" for none)."""
        async def post() -> Posted:
            _, status, _, text = await post_as_twilio(self._session, self.auth_token, url, params, signature,
                                                      self.via)
            return Posted(url, params, status, text)
        posted: Posted = self._loop.call(post(), timeout=60)
        with self._lock:
            self.posted.append(posted)
        return posted

    def statuses(self) -> Counter[str]:
        return Counter(p.params.get("CallStatus", "") for p in self.posted if "/status" in p.url)


class _HeardFlow:
    """The flow whose question the resident hears (named by the gather URL): what keypad.respond reads."""

    def __init__(self) -> None:
        self.current: Flow | None = None

    def __getattr__(self, name: str) -> Any:
        if self.current is None:
            raise AttributeError(f"{name}: no question asked yet")
        return getattr(self.current, name)


class _Line:
    """One call, seen from Twilio: the simulator's line events as webhooks, our TwiML as actions."""

    def __init__(self, peer: LocalTwilioVoice, sid: str, to: str, caller: str, options: dict[str, Any],
                 inbound: bool) -> None:
        self.peer, self.sid, self.to, self.caller, self.options, self.inbound = peer, sid, to, caller, options, inbound
        self.gather: dict[str, str] = {}  # the outstanding Gather's attributes, action and redirect
        self.over = False
        self.start = dt.datetime.now(dt.UTC)
        self.rejected = False
        self.flow: Flow = _HeardFlow()  # type: ignore[assignment]

    def _params(self, status: str, **extra: str) -> dict[str, str]:
        params = {"CallSid": self.sid, "AccountSid": self.peer.account_sid, "From": self.caller, "To": self.to,
                  "CallStatus": status, "ApiVersion": API_VERSION,
                  "Direction": "inbound" if self.inbound else "outbound-api"}
        if self.inbound:
            params["From"], params["To"] = self.caller, HOTLINE_NUMBER
        else:
            params["From"], params["To"] = self.caller, self.to
        return {**params, **extra}

    def _status(self, status: str, event: str, **extra: str) -> None:
        if self.options["StatusCallback"] and event in self.options["events"]:
            self.peer.post(self.options["StatusCallback"], self._params(status, CallbackSource="call-progress-events",
                                                                        **extra))

    # --- CallHandler ---

    def answered(self, at: dt.datetime) -> list[Action]:
        if not self.inbound:
            self._status("initiated", "initiated")
            self._status("ringing", "ringing")
            self._status("in-progress", "answered")
        return self._fetch(self.options["Url"], self._params("in-progress" if not self.inbound else "ringing"))

    def event(self, event: Event, at: dt.datetime) -> list[Action]:
        if self.over or self.peer.hung_up & {self.sid}:
            return [HangUp("completed")]
        if isinstance(event, Hangup):
            self.over = True  # hung up mid-gather: Twilio posts no action, only the final status
            return []
        if isinstance(event, Digits):
            collected = self._collect(event.digits)
            if collected:
                return self._fetch(self.gather["action"], self._params("in-progress", Digits=collected,
                                                                       FinishedOnKey=""))
        if self.gather.get("redirect"):
            return self._fetch(self.gather["redirect"], self._params("in-progress"))
        return [HangUp("completed")]

    def ended(self, state: CallState, at: dt.datetime) -> None:
        if state == CallState.MACHINE and not self.inbound and self.options["amd"] and self.options["async"]:
            self._status("initiated", "initiated")
            self._status("ringing", "ringing")
            self._status("in-progress", "answered")
            self._fetch(self.options["Url"], self._params("in-progress"))
            self.peer.post(self.options["amd_url"], self._params("in-progress", AnsweredBy="machine_end_beep",
                                                                 MachineDetectionDuration="4200"))
            state = CallState.COMPLETED
        elif state != CallState.COMPLETED and not self.inbound:
            self._status("initiated", "initiated")
            if state != CallState.FAILED:
                self._status("ringing", "ringing")
        if self.rejected:
            state = CallState.BUSY
        final = {CallState.COMPLETED: "completed", CallState.BUSY: "busy", CallState.NO_ANSWER: "no-answer",
                 CallState.FAILED: "failed", CallState.MACHINE: "completed"}[state]
        duration = str(max(int((dt.datetime.now(dt.UTC) - self.start).total_seconds()), 1)) \
            if final == "completed" else "0"
        self.peer.call_status[self.sid] = final
        for _ in range(0 if self.peer.drop_final else 2 if self.peer.duplicate_final else 1):
            self.peer.post(self.options["StatusCallback"], self._params(
                final, CallDuration=duration, Duration=duration, CallbackSource="call-progress-events"))
        if self.peer.late_ringing:
            self.peer.post(self.options["StatusCallback"], self._params("ringing", CallbackSource="call-progress-events"))

    # --- TwiML ---

    def _collect(self, digits: str) -> str:
        """The keys Twilio hands to the action: up to numDigits, cut at finishOnKey (not included)."""
        finish, limit = self.gather.get("finishOnKey", "#"), int(self.gather.get("numDigits") or 0)
        collected = ""
        for key in digits:
            if finish and key in finish:
                break
            collected += key
            if limit and len(collected) >= limit:
                break
        return collected

    def _fetch(self, url: str, params: dict[str, str]) -> list[Action]:
        posted = self.peer.post(url, params)
        if posted.status != 200:
            self.over = True
            return [HangUp("completed")]
        return self._read(posted.body)

    def _read(self, body: str) -> list[Action]:
        root = ET.fromstring(body)
        actions: list[Action] = []
        self.gather = {}
        for element in root:
            if element.tag in ("Say", "Play"):
                actions.append(_say(element))
            elif element.tag == "Gather":
                actions.extend(_say(child) for child in element if child.tag in ("Say", "Play"))
                self.gather = {k: v for k, v in element.attrib.items()}
                query = parse_qs(urlsplit(element.attrib["action"]).query)
                node = query.get("node", [""])[0]
                self.flow.current = self.peer.network.flows.get(query.get("flow", [""])[0])  # type: ignore[attr-defined]
                finish = element.attrib.get("finishOnKey", "#")
                actions.append(Gather(node, int(element.attrib.get("numDigits") or 8),
                                      int(element.attrib.get("timeout", "5")), finish or None))
            elif element.tag == "Redirect":
                self.gather["redirect"] = element.text or ""
            elif element.tag in ("Hangup", "Reject"):
                actions.append(HangUp("completed"))
                self.over = True
                self.rejected = element.tag == "Reject"
        if not any(isinstance(a, Gather | HangUp) for a in actions):
            actions.append(HangUp("completed"))  # the end of the document: Twilio hangs up
            self.over = True
        return actions


def _say(element: ET.Element) -> Say:
    if element.tag == "Play":
        return Say(element.text or "", "vi", audio=element.text)
    return Say(element.text or "", (element.attrib.get("language") or "vi-VN").split("-")[0])


