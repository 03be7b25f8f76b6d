"""TELEPHONY_BACKEND=asterisk: place calls with AMI Originate and record those that are never answered.

How a call goes (see docs/asterisk.md):

1. A worker's `AsteriskBackend.place_call` sends ``Originate`` (``Async: true``) to the dial string of
   the number's carrier, with the caller id and the channel variables ROBOCALL_ATTEMPT (the
   attempt id), ROBOCALL_DIALLED and ROBOCALL_AMD; the ActionID carries the attempt id too.
2. Answered: the dialplan (context ``robocall-outbound``) runs AMD() and hands the call to the
   FastAGI server of `robocall asterisk serve`, which drives the flow (agi_app.py, ivr.py).
3. Never answered: Asterisk sends ``OriginateResponse`` with the same ActionID to every AMI
   session; the serve process's `OutcomeListener` maps its Reason onto a call state and ends
   the attempt through the handler source (busy, no answer, failed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.logging_setup import mask_phone
from robocall.models import ACTIVE_CALL_STATES, CallAttempt, CallState, stored_utc
from robocall.phones import normalize
from robocall.telephony.asterisk.ami import AmiClient, AmiError, Message
from robocall.telephony.asterisk.ivr import utcnow
from robocall.telephony.base import CallHandlers, CallRequest

log = logging.getLogger(__name__)

OUTBOUND_CONTEXT = "robocall-outbound"
READY_WAIT = 10.0  # seconds to wait for any server's AMI login before failing a call
SENT_WINDOW = 3.0  # seconds a sent call counts against its server until it shows in Status
ACTION_PREFIX = "robocall-"
LINE_GROUP = "GROUP(robocall)"  # every call the server carries: the hotline's dialplan counts them (GROUP_COUNT)

# OriginateResponse Reason (Asterisk's control frame that ended the dial) -> how the attempt ended.
# 4 (answered) is not here: the AGI session records answered calls.
REASON_STATES: dict[str, CallState] = {
    "0": CallState.FAILED,  # no such channel / trunk down / dial string refused
    "1": CallState.NO_ANSWER,  # the far end hung up before answering (rejected)
    "3": CallState.NO_ANSWER,  # rang until the ring time-out
    "5": CallState.BUSY,
    "8": CallState.FAILED,  # congestion: the network could not complete the call
}


def dial_string(templates: Mapping[str, str], phone: str) -> str:
    """The dial string of `phone`: its carrier's template, else `default`."""
    number = normalize(phone, require_mobile=False)
    template = templates.get(number.carrier) or templates.get("default")
    if template is None:
        raise ValueError(f"ASTERISK_DIAL_TEMPLATES has no route for carrier '{number.carrier}' and no default")
    national = "".join(ch for ch in number.national if ch.isdigit())
    return template.format(national=national, e164=number.e164, digits=number.e164.lstrip("+"))


def action_id_for(request: CallRequest) -> str:
    return f"{ACTION_PREFIX}{request.attempt_id}-{int(stored_utc(request.at).timestamp() * 1000)}"


def parse_action_id(action_id: str) -> tuple[int, dt.datetime] | None:
    if not action_id.startswith(ACTION_PREFIX):
        return None
    attempt, sep, millis = action_id[len(ACTION_PREFIX):].partition("-")
    if not (sep and attempt.isdigit() and millis.isdigit()):
        return None
    return int(attempt), dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC)


def originate_fields(request: CallRequest, templates: Mapping[str, str], ring_timeout: int,
                     amd: bool) -> dict[str, object]:
    return {
        "channel": dial_string(templates, request.phone), "context": OUTBOUND_CONTEXT, "exten": "s",
        "caller_id": request.caller_id, "timeout_ms": ring_timeout * 1000, "action_id": action_id_for(request),
        "variables": {"ROBOCALL_ATTEMPT": str(request.attempt_id), "ROBOCALL_FLOW": request.flow,
                      "ROBOCALL_DIALLED": stored_utc(request.at).isoformat(), "ROBOCALL_AMD": "yes" if amd else "no",
                      LINE_GROUP: "line"},
    }


class AmiThread:
    """An AMI client on its own event loop thread, for synchronous callers (RQ workers)."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ami", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.client.start(wait=None), self.loop).result(10)

    def call(self, coroutine, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        """Run a coroutine using the client on its loop; its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def originate(self, timeout: float = 30.0, **fields: object) -> Message:
        # Waits for a booted login first, so a worker started before Asterisk just waits its turn.
        async def run() -> Message:
            await self.client.wait_ready(timeout)
            return await self.client.originate(**fields)  # type: ignore[arg-type]
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout + 15)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.client.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass(frozen=True)
class Server:
    """One Asterisk server the dialer may use, and the most calls it may carry at once."""

    name: str
    ami: AmiThread
    channel_limit: int = 30
    # Calls sent here in the last seconds, by attempt id: an Async Originate returns before its
    # channel exists, so Status alone would let back-to-back calls overshoot the limit.
    sent: dict[int, float] = field(default_factory=dict, compare=False)


class AsteriskBackend:
    """PhoneBackend: hands each call to the Asterisk server with the most free channels; the line
    events reach `handlers` in the serve process."""

    def __init__(self, handlers: CallHandlers, servers: AmiThread | Sequence[Server], templates: Mapping[str, str],
                 ring_timeout: int = 30, amd: bool = True, engine: Engine | None = None) -> None:
        self.handlers = handlers
        self.servers = [Server("asterisk", servers, 1_000_000)] if isinstance(servers, AmiThread) else list(servers)
        self.ami = self.servers[0].ami
        self.templates = templates
        self.ring_timeout = ring_timeout
        self.amd = amd
        self.engine = engine  # to mark attempts dialling; None when the caller does that itself

    def place_call(self, request: CallRequest) -> None:
        action_id = action_id_for(request)
        server = self.choose_server() if len(self.servers) > 1 else self.servers[0]
        if self.engine is not None and not mark_dialling(
                self.engine, request, f"{server.name}/{action_id}" if server else action_id):
            log.info("call %s is not queued any more; not dialled again", request.attempt_id)
            return
        try:
            if server is None:
                raise AmiError("no Asterisk server is up with a free channel")
            fields = originate_fields(request, self.templates, self.ring_timeout, self.amd)
            server.sent[request.attempt_id] = time.monotonic()
            server.ami.originate(**fields)
        except (AmiError, ValueError, TimeoutError) as exc:
            # Never reached the network: the attempt fails now (and is retried by the ladder).
            log.error("call %s to %s not placed: %s", request.attempt_id, mask_phone(request.phone), exc)
            self.handlers.outbound(request.attempt_id, stored_utc(request.at)).ended(CallState.FAILED, utcnow())

    def capacity(self) -> int | None:
        """The channel limits of the servers that are logged in and booted, summed: a server that is
        down or restarting carries nothing (its calls are closed by the serve process's reconciling)."""
        self._wait_for_a_login()
        return sum(server.channel_limit for server in self.servers if server.ami.client.ready)

    def _wait_for_a_login(self) -> None:
        deadline = time.monotonic() + READY_WAIT  # a worker just started: its AMI logins are under way
        while not any(s.ami.client.ready for s in self.servers) and time.monotonic() < deadline:
            time.sleep(0.05)

    def choose_server(self) -> Server | None:
        """The logged-in server with the most free channels (calls carrying ROBOCALL_ATTEMPT counted)."""
        self._wait_for_a_login()
        best, best_free = None, 0
        for server in self.servers:
            if not server.ami.client.ready:
                continue  # down or restarting: avoided until it logs in again
            try:
                live = server.ami.call(live_attempt_ids(server.ami.client), timeout=10)
            except (AmiError, TimeoutError) as exc:
                log.warning("Asterisk %s: cannot count its calls (%s); not used for this call", server.name, exc)
                continue
            now = time.monotonic()
            over = self._ended(server.sent)  # a short call can be over before Status ever showed it
            for attempt_id, at in list(server.sent.items()):
                if attempt_id in live or attempt_id in over or now - at > SENT_WINDOW:  # counted, over, or lost
                    del server.sent[attempt_id]
            free = server.channel_limit - len(live | set(server.sent))
            if free > best_free:
                best, best_free = server, free
        return best

    def _ended(self, attempt_ids: Iterable[int]) -> set[int]:
        """Which of these attempts are no longer on a line (as the serve process recorded them)."""
        ids = list(attempt_ids)
        if self.engine is None or not ids:
            return set()
        with DbSession(self.engine) as db:
            return set(db.exec(select(CallAttempt.id).where(
                col(CallAttempt.id).in_(ids), col(CallAttempt.state).not_in(ACTIVE_CALL_STATES))).all())

    def hang_up(self, attempt_id: int) -> None:
        """Hang up every channel carrying this attempt (none: already over)."""
        for server in self.servers:
            if server.ami.client.ready:
                server.ami.call(hang_up_attempt(server.ami.client, attempt_id))

    def close(self) -> None:
        for server in self.servers:
            server.ami.close()


async def live_attempt_ids(ami: AmiClient) -> set[int]:
    """Attempt ids on the channels this Asterisk has right now (AMI Status with the variable)."""
    live = set()
    for message in await ami.action_list("Status", {"Variables": "ROBOCALL_ATTEMPT"}, timeout=20):
        for variable in message.all("Variable"):
            name, _, value = variable.partition("=")
            if name == "ROBOCALL_ATTEMPT" and value.isdigit():
                live.add(int(value))
    return live


async def hang_up_attempt(ami: AmiClient, attempt_id: int) -> int:
    hung = 0
    for message in await ami.action_list("Status", {"Variables": "ROBOCALL_ATTEMPT"}):
        if f"ROBOCALL_ATTEMPT={attempt_id}" in message.all("Variable"):
            try:
                await ami.action("Hangup", {"Channel": message.get("Channel")})
                hung += 1
            except AmiError:  # gone meanwhile
                pass
    return hung


def mark_dialling(engine: Engine, request: CallRequest, call_id: str) -> bool:
    """queued -> dialling, once: False when another run of the job dialled it already."""
    with DbSession(engine) as db:
        result = db.exec(update(CallAttempt).where(  # type: ignore[call-overload]
            CallAttempt.id == request.attempt_id, CallAttempt.state == CallState.QUEUED,  # type: ignore[arg-type]
        ).values(state=CallState.DIALLING, dialled_at=stored_utc(request.at), backend="asterisk",
                 backend_call_id=call_id))
        db.commit()
        return bool(result.rowcount)


class OutcomeListener:
    """Ends the attempts whose Originate was never answered (subscribe it to OriginateResponse)."""

    def __init__(self, handlers: CallHandlers) -> None:
        self.handlers = handlers
        self.ended: dict[int, CallState] = {}  # for tests and the serve log

    @staticmethod
    def wants(message: Message) -> bool:
        return message.event == "OriginateResponse" and message.get("ActionID").startswith(ACTION_PREFIX)

    async def __call__(self, message: Message) -> None:
        parsed = parse_action_id(message.get("ActionID"))
        if parsed is None:
            return
        attempt_id, dialled = parsed
        reason = message.get("Reason")
        if reason == "4":
            return  # answered: the AGI session records it
        state = REASON_STATES.get(reason, CallState.FAILED)
        try:
            handler = await asyncio.to_thread(self.handlers.outbound, attempt_id, dialled)
            await asyncio.to_thread(handler.ended, state, utcnow())
        except LookupError as exc:
            log.error("OriginateResponse for an unknown attempt: %s", exc)
            return
        self.ended[attempt_id] = state
        log.info("call %s ended before answer: %s (reason %s)", attempt_id, state, reason)

