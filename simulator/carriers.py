"""Local carriers for tests, the demo and the benchmark: an SMSC on smpp34's server and an HTTP carrier (aiohttp).

Both run in a thread with their own event loop, record what they receive, and
can be told to misbehave (throttle, fail, hang).  Both drop a resend of a
message id they already have (the SMSC reads our vendor TLV 0x1501, the HTTP
carrier the `id` field), as a carrier honouring the id would.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import smpp34
from aiohttp import ClientError, ClientSession, web

from robocall.gc_tuning import freeze_startup_objects
from simulator import lightsmsc
from sms.web import webhook_headers

TLV_OUR_MESSAGE_ID = 0x1501


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @staticmethod
    async def serve(app: web.Application, port: int) -> tuple[web.AppRunner, ClientSession]:
        """Serve `app` on 127.0.0.1:`port` (on this loop); a client session for callbacks."""
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner, ClientSession()

    def close_web(self, runner: web.AppRunner, session: ClientSession, tasks: Any = ()) -> None:
        """Cancel `tasks`, close what :meth:`serve` opened, stop the loop."""
        async def close() -> None:
            for task in list(tasks):
                task.cancel()
            await session.close()
            await runner.cleanup()
        try:
            self.call(close())
        finally:
            self.stop()


@dataclass
class Submit:
    session: str
    destination: str
    data_coding: int
    esm_class: int
    short_message: bytes
    our_id: str | None


@dataclass
class LocalSmsc:
    """An SMSC: accepts submit_sm, answers receipts by deliver_sm, can throttle or refuse.

    engine "smpp34": smpp34's server, an SMPP implementation independent of ours (the tests);
    "light": simulator.lightsmsc, cheap enough to share two cores with a benchmark."""

    port: int = field(default_factory=free_port)
    engine: str = "smpp34"
    throttle_first: int = 0  # answer ESME_RTHROTTLED to the first N submits
    reject_numbers: set[str] = field(default_factory=set)  # answer ESME_RINVDSTADR
    undelivered_parts: dict[str, int] = field(default_factory=dict)  # number (no +) -> part whose receipt is UNDELIV
    receipts: bool = True
    record: bool = True  # keep every submit (tests); off for the benchmark's million
    host: str = "127.0.0.1"  # another address when the SMSC plays a carrier's host (simulator/hosts.py)
    submit_count: int = 0
    submits: list[Submit] = field(default_factory=list)
    accepted_ids: Counter[str] = field(default_factory=Counter)  # our message id -> times taken
    resent_ids: Counter[str] = field(default_factory=Counter)  # our id -> resends recognised (and not sent again)
    receipts_sent: int = 0
    esmes: dict[str, Any] = field(default_factory=dict)

    def start(self) -> LocalSmsc:
        self._loop = LoopThread()
        self._counter = itertools.count(1)
        self._ids: dict[str, str] = {}
        self._pending: list[tuple[str, str, str]] = []
        self._loop.call(self._start())
        return self

    async def _start(self) -> None:
        self.server = (lightsmsc.Server if self.engine == "light" else smpp34.Server)(
            self.host, self.port, system_id="TESTSMSC")
        await self._start_serving()
        self._retrier = asyncio.get_running_loop().create_task(self._retry_receipts())

    async def _retry_receipts(self) -> None:
        """Receipts no session took (none bound, or its link died before answering) are tried again, as
        an SMSC does: at the next bind, and every half second while someone is bound."""
        while True:
            await asyncio.sleep(0.5)
            if self._pending and self.esmes:
                self._resend_receipts(next(iter(self.esmes)))

    def _resend_receipts(self, session: str) -> None:
        pending, self._pending = self._pending, []
        for phone, message_id, stat in pending:
            asyncio.get_running_loop().create_task(self._receipt(session, phone, message_id, stat))

    async def _serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, (smpp34.Esme, lightsmsc.Esme)):
                self.esmes[event.session_id] = event
                self._resend_receipts(event.session_id)  # receipts kept for the next bind, as SMSCs do
            elif isinstance(event, (smpp34.SubmitSmEvent, lightsmsc.SubmitSmEvent)):
                self._submit(event)
            elif isinstance(event, (smpp34.Unbound, lightsmsc.Unbound)):
                self.esmes.pop(event.session_id, None)

    def _submit(self, event: Any) -> None:
        our = next((t.value.decode() for t in event.tlvs if t.tag == TLV_OUR_MESSAGE_ID), None)
        self.submit_count += 1
        if self.record:
            self.submits.append(Submit(event.session_id, event.destination_addr, event.data_coding,
                                       event.esm_class, event.short_message, our))
        if self.throttle_first > 0:
            self.throttle_first -= 1
            event.reject(smpp34.ESME_RTHROTTLED)
            return
        if event.destination_addr in self.reject_numbers:
            event.reject(smpp34.ESME_RINVDSTADR)
            return
        part = event.short_message[5] if event.esm_class & 0x40 else 1
        key = f"{our}/{part}"
        if key in self._ids:  # a resend of what we already have: same answer, nothing new goes out
            if part == 1:
                self.resent_ids[str(our)] += 1
            event.accept(self._ids[key])
            return
        message_id = f"S{next(self._counter)}"
        self._ids[key] = message_id
        if part == 1:
            self.accepted_ids[str(our)] += 1
        event.accept(message_id)
        if self.receipts:
            stat = "UNDELIV" if self.undelivered_parts.get(event.destination_addr) == part else "DELIVRD"
            asyncio.get_running_loop().create_task(self._receipt(event.session_id, event.destination_addr,
                                                                 message_id, stat))

    async def _receipt(self, session: str, phone: str, message_id: str, stat: str = "DELIVRD") -> None:
        esme = self.esmes.get(session) or next(iter(self.esmes.values()), None)
        err = "000" if stat == "DELIVRD" else "001"
        text = f"id:{message_id} sub:001 dlvrd:001 submit date:2108120800 done date:2108120801 stat:{stat} err:{err} text:"
        try:
            if esme is None:
                raise ConnectionError("nobody bound")
            status = await esme.deliver_sm("CDC", text.encode(), source_addr=phone, esm_class=0x04)
            if isinstance(status, int) and status != 0:  # ESME_RX_T_APPN...: kept, to be delivered again
                raise ConnectionError(f"deliver_sm answered {status:#x}")
            self.receipts_sent += 1
        except Exception:
            self._pending.append((phone, message_id, stat))

    def go_down(self) -> None:
        """The SMSC is switched off: its sessions drop and nothing answers on its port until come_back()."""
        async def down() -> None:
            self._task.cancel()
            await self.server.stop()
            self.esmes.clear()
        self._loop.call(down())

    def come_back(self) -> None:
        """Listening again (what it had taken, and the receipts it still owes, are kept)."""
        self._loop.call(self._start_serving())

    async def _start_serving(self) -> None:
        await self.server.start()
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def mo(self, phone: str, text: str) -> None:
        """A person sends an SMS to us (mobile originated), to every bound session."""
        async def send() -> None:
            for esme in list(self.esmes.values()):
                await esme.deliver_sm("CDC", text.encode("utf_16_be"), source_addr=phone, data_coding=8)
        self._loop.call(send())

    def stop(self) -> None:
        if getattr(self, "_stopped", False):
            return
        self._stopped = True

        async def stop() -> None:
            self._task.cancel()
            self._retrier.cancel()
            await self.server.stop()
        try:
            self._loop.call(stop())
        finally:
            self._loop.stop()

    def gateway_config(self, rate: float = 5000, window: int = 50, submit_timeout: float = 30) -> dict[str, Any]:
        return {"kind": "smpp", "host": "127.0.0.1", "port": self.port, "system_id": "cdc", "password": "pw",
                "rate": rate, "window": window, "submit_timeout": submit_timeout}


@dataclass
class LocalHttpCarrier:
    """A carrier HTTP API: JSON batches or form posts (one message each, answered with one result);
    fails, throttles or hangs on request, rejects chosen numbers; posts signed receipts."""

    port: int = field(default_factory=free_port)
    token: str = "Bearer carrier-key"
    fail_first: int = 0  # HTTP 500 for the first N requests
    throttle_first: int = 0  # HTTP 429 for the first N requests
    hang_first: int = 0  # sleep past the client's timeout for the first N requests
    always_fail: bool = False
    # Shares of requests answered HTTP 500, 429, or too late (drawn with `seed`): a flaky carrier.
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    hang_rate: float = 0.0
    seed: int = 1
    reject_numbers: set[str] = field(default_factory=set)  # E.164 numbers answered "rejected"
    receipt_url: str | None = None  # where to post delivery receipts
    receipt_secret: str = ""
    record: bool = True
    requests: int = 0
    unauthorized: int = 0
    accepted_ids: Counter[str] = field(default_factory=Counter)
    resent_ids: Counter[str] = field(default_factory=Counter)  # our id -> resends recognised (and not sent again)
    troubles: Counter[str] = field(default_factory=Counter)  # requests answered 500, 429 or too late by the rates
    messages: list[dict[str, Any]] = field(default_factory=list)
    content_types: Counter[str] = field(default_factory=Counter)
    form_bodies: list[bytes] = field(default_factory=list)  # raw form posts, as they came over the wire
    arrivals: list[tuple[float, str, int]] = field(default_factory=list)  # (monotonic time, our id, HTTP status)

    def start(self) -> LocalHttpCarrier:
        self._loop = LoopThread()
        self._counter = itertools.count(1)
        self._ids: dict[str, str] = {}
        self._random = random.Random(self.seed)
        self._loop.call(self._start())
        return self

    def _trouble(self) -> str:
        """What the rates make of this request: "500", "429", "hang" or "" (none)."""
        draw = self._random.random()
        for trouble, rate in (("500", self.fail_rate), ("429", self.throttle_rate), ("hang", self.hang_rate)):
            if draw < rate:
                self.troubles[trouble] += 1
                return trouble
            draw -= rate
        return ""

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self._runner, self._session = await self._loop.serve(app, self.port)

    async def _send(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != self.token:
            self.unauthorized += 1
            return web.json_response({"error": "unauthorized"}, status=401)
        form = request.content_type == "application/x-www-form-urlencoded"
        if self.record:
            self.content_types[request.content_type] += 1
        if form:
            raw = await request.read()
            if self.record:
                self.form_bodies.append(raw)
            incoming: list[dict[str, Any]] = [dict(await request.post())]
        else:
            incoming = (await request.json())["messages"]
        trouble = self._trouble()
        status = 500 if self.always_fail or self.fail_first > 0 or trouble == "500" \
            else 429 if self.throttle_first > 0 or trouble == "429" else 200
        if self.record:
            now = time.monotonic()
            self.arrivals.extend((now, str(m.get("id")), status) for m in incoming)
        if status == 500:
            self.fail_first -= 1
            return web.json_response({"error": "internal"}, status=500)
        if status == 429:
            self.throttle_first -= 1
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0.2"})
        hang = self.hang_first > 0 or trouble == "hang"  # take them, answer too late: the client must resend by id
        self.hang_first -= 1
        results, receipts = [], []
        for message in incoming:
            if self.record:
                self.messages.append(message)
            our = message["id"]
            if message.get("to") in self.reject_numbers:
                results.append({"id": our, "status": "rejected", "error": "invalid destination"})
                continue
            if our in self._ids:
                self.resent_ids[str(our)] += 1
            else:
                self._ids[our] = f"H{next(self._counter)}"
                self.accepted_ids[our] += 1
                receipts.append({"message_id": self._ids[our], "status": "delivered", "id": our})  # echoes ours
            results.append({"id": our, "status": "accepted", "message_id": self._ids[our]})
        if self.receipt_url and receipts:
            asyncio.get_running_loop().create_task(self._post_receipts(receipts))
        if hang:
            await asyncio.sleep(3)
        return web.json_response(results[0] if form else {"results": results})

    async def _post_receipts(self, receipts: list[dict[str, str]]) -> None:
        """Post receipts, again (newly signed) until they are taken, as carriers retry their webhooks."""
        body = json.dumps({"receipts": receipts}).encode()
        assert self.receipt_url is not None
        for _ in range(600):
            try:
                async with self._session.post(self.receipt_url, data=body,
                                              headers=webhook_headers(self.receipt_secret, body)) as response:
                    await response.read()
                    if response.status < 500:
                        return
            except (OSError, asyncio.TimeoutError, ClientError):
                pass
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._loop.close_web(self._runner, self._session)

    def gateway_config(self, rate: float = 5000, batch: int = 100, timeout: float = 1.0,
                       format: str = "json") -> dict[str, Any]:
        return {"kind": "http", "url": f"http://127.0.0.1:{self.port}/send", "auth_header": "Authorization",
                "auth_value": self.token, "rate": rate, "batch": batch, "timeout": timeout, "format": format}


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def main() -> None:
    """Run both carriers until killed (the benchmark starts them in a process of their own)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--smpp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--receipt-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--smsc", choices=["light", "smpp34"], default="light")
    parser.add_argument("--smpp-host", default="127.0.0.1", help="the SMSC's listening address")
    args = parser.parse_args()
    smsc = LocalSmsc(port=args.smpp_port, engine=args.smsc, record=False, host=args.smpp_host).start()
    http = LocalHttpCarrier(port=args.http_port, receipt_url=args.receipt_url, receipt_secret=args.secret,
                            record=False).start()
    freeze_startup_objects()
    print("carriers ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        smsc.stop()
        http.stop()


if __name__ == "__main__":
    main()
