"""An asyncio FastAGI server: Asterisk's `AGI(agi://host:port/script)` connects here, one call per connection.

The protocol: Asterisk sends the AGI environment (``agi_name: value`` lines, then an empty line);
the server then sends one command per line and reads its response:

* ``200 result=N [(data)] [key=value ...]`` -- done; N is -1 when the channel failed or hung up;
* ``510 ...`` unknown command, ``520-...`` / ``520 ...`` bad usage (multi-line), both errors;
* ``511 ...`` the channel is dead (hung up): `AgiHangup`;
* ``HANGUP`` on its own line, sent once when the caller hangs up, before or between responses;
* end of file: Asterisk dropped the connection (the call is over): `AgiHangup`.

Each connection runs its own session coroutine, every read has a time-out, and a peer that
sends garbage, sends nothing or sends slowly only ever holds up its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from robocall.logging_setup import bind_log_context
from robocall.process_metrics import FASTAGI_SESSIONS, FASTAGI_SESSIONS_ENDED
from robocall.text import bilingual

log = logging.getLogger(__name__)

MAX_LINE = 8192
MAX_ENV_LINES = 200


class AgiError(Exception):
    """The peer broke the protocol, refused a command or did not answer in time.  Its text says where
    (the environment's line, the command), Vietnamese first: operators read it in the logs."""


class AgiHangup(AgiError):
    """The channel hung up or the connection closed: no more commands can run."""


@dataclass(frozen=True)
class AgiResult:
    code: int
    result: str  # what follows ``result=``: a number, digits typed, or empty
    data: str | None = None  # the text in parentheses, e.g. "timeout" or a variable's value
    extras: dict[str, str] = field(default_factory=dict)  # key=value after it (endpos=...)

    @property
    def value(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            raise AgiError(bilingual(f"kết quả AGI {self.result!r} không phải là số",
                                     f"AGI result {self.result!r} is not a number")) from None


def parse_result(line: str) -> AgiResult:
    """Parse a ``200 result=...`` line (other codes are handled by the reader)."""
    if not line.startswith("200 result="):
        raise AgiError(bilingual(f"câu trả lời AGI không mong đợi {line[:80]!r}", f"unexpected AGI response {line[:80]!r}"))
    rest = line[len("200 result="):]
    result, _, rest = rest.partition(" ")
    data = None
    rest = rest.strip()
    if rest.startswith("("):
        end = rest.rfind(")")
        if end < 0:
            raise AgiError(bilingual(f"thiếu ')' trong câu trả lời AGI {line[:80]!r}",
                                     f"unclosed '(' in AGI response {line[:80]!r}"))
        data, rest = rest[1:end], rest[end + 1:].strip()
    extras = dict(part.split("=", 1) for part in rest.split() if "=" in part)
    return AgiResult(200, result, data, extras)


def _named(command: str) -> str:
    """A command as errors name it: its first two words ("GET VARIABLE"), never its arguments."""
    return " ".join(command.split()[:2])[:40] or "?"


def quote(argument: str) -> str:
    """An AGI command argument: double-quoted, so spaces and empty strings survive."""
    if any(c in argument for c in '"\\\r\n'):
        raise ValueError(f"AGI argument {argument!r} may not contain quotes, backslashes or line breaks")
    return f'"{argument}"'


class AgiChannel:
    """One call's AGI connection: its environment and the commands sent on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: dict[str, str],
                 command_timeout: float) -> None:
        self.reader, self.writer, self.env = reader, writer, env
        self.command_timeout = command_timeout
        self.hung_up = False  # a HANGUP line came: the caller is gone
        self.closed = False  # the connection is gone
        try:
            url = urlsplit(env.get("agi_request", ""))
        except ValueError:  # agi://[::1/x: a broken address names no script (the session refuses the call)
            url = urlsplit("")
        self.script = env.get("agi_network_script", url.path.lstrip("/")).partition("?")[0]
        self.query = dict(parse_qsl(url.query))

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        """Send one command and return its ``200`` result; AgiHangup / AgiError otherwise."""
        if self.closed:
            raise AgiHangup(bilingual("kết nối AGI đã đóng", "the AGI connection is closed"))
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command is one line")
        self.writer.write(line.encode() + b"\n")
        try:
            await self.writer.drain()
            async with asyncio.timeout(timeout or self.command_timeout):  # no extra task, unlike wait_for
                return await self._response(line)
        except TimeoutError:
            self.closed = True
            waited = f"{timeout or self.command_timeout:.0f}"
            raise AgiError(bilingual(f"không có trả lời cho {_named(line)} trong {waited} giây",
                                     f"no answer to {_named(line)} within {waited} s")) from None
        except (ConnectionError, OSError) as exc:
            self.closed = True
            raise AgiHangup(bilingual(f"mất kết nối khi chạy {_named(line)} ({exc})",
                                      f"connection lost during {_named(line)} ({exc})")) from None

    async def _response(self, command: str) -> AgiResult:
        while True:
            line = await self._line()
            if line == "HANGUP":
                self.hung_up = True
                continue
            code = line[:3]
            if code == "200":
                return parse_result(line)
            if code == "511":
                self.hung_up = True
                raise AgiHangup(bilingual(f"{_named(command)}: kênh đã ngắt ({line[4:80]})",
                                          f"{_named(command)}: channel is dead ({line[4:80]})"))
            if code == "510":
                raise AgiError(bilingual(f"Asterisk không biết lệnh AGI {_named(command)}",
                                         f"Asterisk does not know the AGI command {_named(command)}"))
            if code == "520":
                usage = [line[4:]]
                while not line.startswith("520 "):  # "520-" opens usage text ended by "520 End of proper usage."
                    line = await self._line()
                    usage.append(line)
                told = " ".join(usage)[:300]
                raise AgiError(bilingual(f"lệnh AGI {_named(command)} dùng sai: {told}",
                                         f"bad AGI usage of {_named(command)}: {told}"))
            raise AgiError(bilingual(f"câu trả lời AGI không mong đợi {line[:80]!r} cho {_named(command)}",
                                     f"unexpected AGI response {line[:80]!r} to {_named(command)}"))

    async def _line(self) -> str:
        try:
            raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            self.closed = True
            raise AgiHangup(bilingual("Asterisk đã đóng kết nối AGI", "Asterisk closed the AGI connection")) from None
        except asyncio.LimitOverrunError:
            self.closed = True
            raise AgiError(bilingual(f"dòng AGI dài quá {MAX_LINE} byte", f"AGI line longer than {MAX_LINE} bytes")) from None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    # --- the commands the IVR uses ---
    async def get_variable(self, name: str) -> str | None:
        result = await self.command(f"GET VARIABLE {name}")
        return result.data if result.value == 1 else None

    async def channel_status(self) -> int:
        return (await self.command("CHANNEL STATUS")).value

    async def answer(self) -> int:
        return (await self.command("ANSWER")).value

    async def hangup(self) -> None:
        with contextlib.suppress(AgiHangup):
            await self.command("HANGUP")
        self.hung_up = True

    async def close(self) -> None:
        self.closed = True
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


Session = Callable[[AgiChannel], Awaitable[None]]


async def read_environment(reader: asyncio.StreamReader, timeout: float) -> dict[str, str]:
    """The ``agi_*`` header; AgiError if the peer sends something else, too much, or not in time."""
    env: dict[str, str] = {}

    async def read() -> None:
        for number in range(1, MAX_ENV_LINES + 1):
            place_vi, place_en = f"môi trường AGI, dòng {number}", f"AGI environment, line {number}"
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                raise AgiHangup(bilingual(f"{place_vi}: kết nối đóng trước khi môi trường AGI kết thúc",
                                          f"{place_en}: connection closed before the environment ended")) from None
            except asyncio.LimitOverrunError:
                raise AgiError(bilingual(f"{place_vi}: dòng dài quá {MAX_LINE} byte",
                                         f"{place_en}: line longer than {MAX_LINE} bytes")) from None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if not env:
                    raise AgiError(bilingual(f"{place_vi}: môi trường AGI trống", f"{place_en}: empty AGI environment"))
                return
            key, sep, value = line.partition(":")
            if not sep or not key.startswith("agi_"):
                raise AgiError(bilingual(f"{place_vi}: không phải dòng 'agi_tên: giá trị': {line[:60]!r}",
                                         f"{place_en}: not an 'agi_name: value' line: {line[:60]!r}"))
            env[key] = value.strip()
        raise AgiError(bilingual(f"môi trường AGI dài quá {MAX_ENV_LINES} dòng",
                                 f"AGI environment longer than {MAX_ENV_LINES} lines"))

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AgiError(bilingual(f"không nhận đủ môi trường AGI trong {timeout:.0f} giây",
                                 f"no complete AGI environment within {timeout:.0f} s")) from None
    return env


class FastAgiServer:
    def __init__(self, session: Session, host: str = "127.0.0.1", port: int = 4573, *,
                 env_timeout: float = 5.0, command_timeout: float = 10.0, backlog: int = 1024) -> None:
        self.session = session
        self.host, self.port = host, port
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.backlog = backlog  # a burst of calls answered at once connects at once
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.refused = 0  # connections closed for a bad or missing environment
        self.failed = 0  # sessions that ended with an unexpected error

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connected, self.host, self.port, limit=MAX_LINE,
                                                  backlog=self.backlog)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI server listening on %s:%s", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    @property
    def active(self) -> int:
        return len(self._sessions)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        FASTAGI_SESSIONS.inc()
        outcome = "ok"
        try:
            try:
                env = await read_environment(reader, self.env_timeout)
            except asyncio.CancelledError:
                return
            except AgiError as exc:
                self.refused += 1
                outcome = "refused"
                log.warning("FastAGI: refused a connection from %s: %s", writer.get_extra_info("peername"), exc)
                return
            channel = AgiChannel(reader, writer, env, self.command_timeout)
            bind_log_context(call_id=env.get("agi_uniqueid"))  # this connection's own task
            try:
                await self.session(channel)
            except AgiHangup:
                pass
            except AgiError as exc:  # the peer broke the protocol: its message says where; no traceback to read
                self.failed += 1
                outcome = "failed"
                log.warning("FastAGI session %s on %s: %s", channel.script, env.get("agi_channel", "?"), exc)
            except asyncio.CancelledError:
                log.info("FastAGI session %s on %s cancelled (server closing)", channel.script, env.get("agi_channel"))
            except Exception:
                self.failed += 1
                outcome = "failed"
                log.exception("FastAGI session %s on %s failed", channel.script, env.get("agi_channel", "?"))
        finally:
            self._sessions.discard(task)
            FASTAGI_SESSIONS.dec()
            FASTAGI_SESSIONS_ENDED.labels(outcome).inc()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
