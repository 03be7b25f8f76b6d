"""An asyncio Asterisk Manager Interface (AMI) client.

AMI is a line protocol over TCP: a banner line, then messages of ``Key: Value`` lines ended by
an empty line.  This client logs in, matches each response to its action by ActionID, hands
events to subscribers through their own queues (a slow subscriber never holds up the reader),
pings to notice a dead peer, and reconnects with back-off, logging in again, when the connection
drops (Asterisk restarted, network cut).  Actions sent while disconnected fail at once with
`AmiError` rather than wait for an unknown time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Fields = Mapping[str, str] | Iterable[tuple[str, str]]


class AmiError(Exception):
    """An action failed: refused by Asterisk, timed out, or the connection is down."""


@dataclass
class Message:
    """One AMI message; `pairs` keeps repeated keys (Variable, Output) in order."""

    pairs: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str, default: str = "") -> str:
        lower = key.lower()
        for k, v in self.pairs:
            if k.lower() == lower:
                return v
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key, "\0")
        if value == "\0":
            raise KeyError(key)
        return value

    def all(self, key: str) -> list[str]:
        lower = key.lower()
        return [v for k, v in self.pairs if k.lower() == lower]

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def ok(self) -> bool:
        return self.get("Response").lower() in {"success", "goodbye", "follows"}


def encode(fields: Fields) -> bytes:
    items = fields.items() if isinstance(fields, Mapping) else fields
    lines = []
    for key, value in items:
        if "\r" in str(value) or "\n" in str(value):
            raise ValueError(f"AMI field {key!r} must be one line")
        lines.append(f"{key}: {value}\r\n")
    return ("".join(lines) + "\r\n").encode()


def parse(block: bytes) -> Message:
    message = Message()
    for line in block.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        message.pairs.append((key.strip(), value.strip()) if sep else ("Output", line))
    return message


Subscriber = Callable[[Message], Awaitable[None]]


class AmiClient:
    def __init__(self, host: str, port: int, username: str, secret: str, *, ping_interval: float = 20.0,
                 action_timeout: float = 10.0, backoff: tuple[float, float] = (0.2, 15.0),
                 name: str = "asterisk") -> None:
        self.host, self.port, self.username, self.secret = host, port, username, secret
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.backoff = backoff
        self.name = name
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self._subscribers: list[tuple[Callable[[Message], bool], asyncio.Queue[Message]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.StreamWriter | None = None
        self._logged_in = asyncio.Event()
        self._booted = asyncio.Event()
        self._closing = False
        self._runner: asyncio.Task[None] | None = None
        self.connections = 0  # successful logins, for tests and health checks
        self.last_error = ""  # why the last connection or login failed, for `robocall asterisk check`
        self.login_refused = False  # the last login was refused (user, secret or permit), not unreachable

    # --- life cycle ---
    async def start(self, wait: float | None = 30.0) -> None:
        """Connect in the background (reconnecting for ever); wait up to `wait` s for a booted login."""
        self._runner = asyncio.create_task(self._run(), name=f"ami-{self.name}")
        if wait:
            await self.wait_ready(wait)

    async def wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._booted.wait(), timeout)
        except TimeoutError:
            raise AmiError(f"AMI {self.host}:{self.port}: not logged in and booted within {timeout:.0f} s") from None

    @property
    def ready(self) -> bool:
        return self._booted.is_set()

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None and self._logged_in.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.action("Logoff"), 2)
        for task in [self._runner, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._runner, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._drop_connection()

    # --- events ---
    def subscribe(self, handler: Subscriber, where: Callable[[Message], bool] = lambda m: True) -> None:
        """Call `handler` for each event that `where` accepts, in order, in its own task."""
        queue: asyncio.Queue[Message] = asyncio.Queue()
        self._subscribers.append((where, queue))
        self._tasks.append(asyncio.create_task(self._deliver(handler, queue)))

    async def _deliver(self, handler: Subscriber, queue: asyncio.Queue[Message]) -> None:
        while True:
            message = await queue.get()
            try:
                await handler(message)
            except Exception:
                log.exception("AMI %s: event handler failed on %s", self.name, message.event)

    # --- actions ---
    async def action(self, name: str, fields: Fields = (), timeout: float | None = None) -> Message:
        """Send an action; returns its response, raises AmiError when it fails or times out."""
        response = await self._send(name, fields, timeout, collect=False)
        return response

    async def action_list(self, name: str, fields: Fields = (), timeout: float | None = None) -> list[Message]:
        """An action answered by a list of events ending with ``EventList: Complete`` (CoreShowChannels...)."""
        action_id = f"{self.name}-{next(self._ids)}"
        self._lists[action_id] = []
        try:
            await self._send(name, fields, timeout, collect=True, action_id=action_id)
            return self._lists[action_id]
        finally:
            self._lists.pop(action_id, None)

    async def originate(self, channel: str, *, context: str, exten: str = "s", priority: int = 1,
                        caller_id: str = "", timeout_ms: int = 30000, variables: Mapping[str, str] | None = None,
                        action_id: str | None = None) -> Message:
        """Start a call (``Async: true``): returns once Asterisk queued it; the outcome comes as the
        OriginateResponse event carrying the same ActionID."""
        fields: list[tuple[str, str]] = [
            ("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", str(priority)),
            ("Timeout", str(timeout_ms)), ("Async", "true"),
        ]
        if caller_id:
            fields.append(("CallerID", caller_id))
        for key, value in (variables or {}).items():
            fields.append(("Variable", f"{key}={value}"))
        return await self._send("Originate", fields, None, collect=False, action_id=action_id)

    async def _send(self, name: str, fields: Fields, timeout: float | None, *, collect: bool,
                    action_id: str | None = None, needs_login: bool = True) -> Message:
        if needs_login and not self._logged_in.is_set():
            raise AmiError(f"AMI {self.host}:{self.port} is not connected")
        writer = self._writer
        if writer is None:
            raise AmiError(f"AMI {self.host}:{self.port} is not connected")
        action_id = action_id or f"{self.name}-{next(self._ids)}"
        items = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        if collect:
            self._pending[action_id + "/complete"] = asyncio.get_running_loop().create_future()
        try:
            writer.write(encode([("Action", name), ("ActionID", action_id), *items]))
            await writer.drain()
            response = await asyncio.wait_for(future, timeout or self.action_timeout)
            if not response.ok:
                raise AmiError(f"AMI {name} refused: {response.get('Message') or response.get('Response')}")
            if collect:
                # Registered before sending, so a Complete read together with the response isn't missed.
                await asyncio.wait_for(self._pending[action_id + "/complete"], timeout or self.action_timeout)
            return response
        except TimeoutError:
            raise AmiError(f"AMI {name}: no response within {timeout or self.action_timeout:.0f} s") from None
        except (ConnectionError, OSError) as exc:
            raise AmiError(f"AMI {name}: connection lost ({exc})") from None
        finally:
            self._pending.pop(action_id, None)
            complete = self._pending.pop(action_id + "/complete", None)
            if complete is not None and complete.done() and not complete.cancelled():
                complete.exception()  # seen: a lost connection fails it without a "never retrieved" warning

    # --- connection ---
    async def _run(self) -> None:
        delay = self.backoff[0]
        while not self._closing:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
            except (OSError, TimeoutError) as exc:
                self.last_error, self.login_refused = str(exc) or type(exc).__name__, False
                log.warning("AMI %s: cannot connect to %s:%s (%s); retrying in %.1f s",
                            self.name, self.host, self.port, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            self._writer = writer
            try:
                await self._session(reader)
                delay = self.backoff[0]
            except (OSError, TimeoutError, AmiError, asyncio.IncompleteReadError) as exc:
                if not self._closing:
                    log.warning("AMI %s: connection lost (%s); reconnecting in %.1f s", self.name, exc, delay)
            finally:
                self._drop_connection()
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _session(self, reader: asyncio.StreamReader) -> None:
        banner = await asyncio.wait_for(reader.readline(), 5)
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiError(f"not an AMI server (banner {banner[:40]!r})")
        read_task = asyncio.create_task(self._read(reader))
        try:
            await self._send("Login", [("Username", self.username), ("Secret", self.secret)], None,
                             collect=False, needs_login=False)
        except AmiError as exc:
            read_task.cancel()
            self.last_error, self.login_refused = str(exc), "refused" in str(exc)
            log.error("AMI %s: login as %s refused: %s", self.name, self.username, exc)
            raise
        self._logged_in.set()
        self.connections += 1
        log.info("AMI %s: logged in to %s:%s", self.name, self.host, self.port)
        pinger = asyncio.create_task(self._ping())
        try:
            done, _ = await asyncio.wait({read_task, pinger}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (read_task, pinger):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await self.action("Ping")  # AmiError ends the session, so it reconnects

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            block = await reader.readuntil(b"\r\n\r\n")
            self._dispatch(parse(block))

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID")
        if not message.event:  # a response (OriginateResponse is an event that has a Response field)
            future = self._pending.get(action_id)
            if future is not None and not future.done():
                future.set_result(message)
            return
        event = message.event
        if event == "FullyBooted":
            self._booted.set()
        elif event == "Shutdown":
            self._booted.clear()
        if action_id in self._lists:
            if message.get("EventList").lower() == "complete":
                future = self._pending.get(action_id + "/complete")
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                self._lists[action_id].append(message)
            return
        for where, queue in self._subscribers:
            if where(message):
                queue.put_nowait(message)

    def _drop_connection(self) -> None:
        self._logged_in.clear()
        self._booted.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AmiError(f"AMI {self.host}:{self.port}: connection lost"))
