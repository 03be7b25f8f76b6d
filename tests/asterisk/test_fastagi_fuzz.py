"""Whatever a peer sends the FastAGI server (environment, responses, garbage), the reader answers with an
AgiError naming where (the environment's line, the command), Vietnamese first, and the server neither
crashes nor lets an exception escape a connection.  No Asterisk needed: the bytes are the peer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from robocall.telephony.asterisk.fastagi import (
    MAX_LINE,
    AgiChannel,
    AgiError,
    AgiResult,
    FastAgiServer,
    read_environment,
)

FUZZ = settings(max_examples=150)

_ENV_LINES = st.sampled_from([
    b"agi_network: yes\n", b"agi_request: agi://127.0.0.1/outbound?attempt=12\n", b"agi_channel: SIP/x-1\n",
    b"agi_uniqueid: 1628581200.12\n", b"agi_callerid: 0912000001\n", b"agi_request: agi://[::1/x\n",
    b"agi_request: agi://h/x?%zz=%ff&a\n", b"agi_network_script: \xff\xfe?x\n", b"agi_x:\n", b"\n", b"\r\n",
    b"agi_x: " + b"a" * 100 + b"\n", b"GET / HTTP/1.1\r\n", b"agi_\x00: \x00\n", b"HANGUP\n", b":\n",
])
ENV_BYTES = st.one_of(st.binary(max_size=300), st.lists(_ENV_LINES, max_size=12).map(b"".join))
_RESPONSES = st.sampled_from([
    b"200 result=1\n", b"200 result=1 (value)\n", b"200 result= (timeout)\n", b"200 result=abc\n",
    b"200 result=1 (unclosed\n", b"200 result=1 ((()\n", b"200 result=0 endpos=12 a==b =\n", b"HANGUP\n",
    b"510 Invalid or unknown command\n", b"520-Invalid command syntax.  Proper usage follows:\n",
    b"520 End of proper usage.\n", b"511 Command Not Permitted on a dead channel\n", b"\n", b"201\n", b"2\n",
    b"200 result=\xff\xfe\n", b"200 result=-1\n", b"200\n",
])
RESPONSE_BYTES = st.one_of(st.binary(max_size=200), st.lists(_RESPONSES, max_size=6).map(b"".join))


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_LINE)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


class _Writer:
    """Takes what the channel sends (nothing is read back from it)."""

    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None


def _vietnamese_first(error: AgiError) -> None:
    vi, sep, en = str(error).partition(" / ")
    assert sep and vi and en, f"not 'Vietnamese / English': {error}"


@FUZZ
@given(data=ENV_BYTES)
@example(data=b"agi_request: agi://[::1/x\n\n")  # urlsplit's ValueError escaped the connection
@example(data=b"agi_network: yes\n" * 300)  # too many lines
@example(data=b"agi_x: " + b"a" * (MAX_LINE + 10) + b"\n")
def test_any_environment_is_read_or_refused_naming_its_line(data: bytes) -> None:
    async def run() -> None:
        try:
            env = await read_environment(_reader(data), 5)
        except AgiError as error:
            _vietnamese_first(error)
            return
        assert env and all(key.startswith("agi_") for key in env)
        channel = AgiChannel(_reader(b""), _Writer(), env, 1)  # type: ignore[arg-type]
        assert isinstance(channel.script, str) and isinstance(channel.query, dict)

    asyncio.run(run())


@FUZZ
@given(data=RESPONSE_BYTES, command=st.sampled_from(["GET VARIABLE ROBOCALL_ATTEMPT", "ANSWER", "CHANNEL STATUS"]))
@example(data=b"520-usage\n", command="ANSWER")  # usage text cut by the end of the connection
@example(data=b"200 result=abc\n", command="CHANNEL STATUS")
def test_any_response_is_a_result_or_an_agi_error(data: bytes, command: str) -> None:
    async def run() -> None:
        env = {"agi_network: yes": "yes", "agi_request": "agi://127.0.0.1/outbound"}
        channel = AgiChannel(_reader(data), _Writer(), env, 1)  # type: ignore[arg-type]
        try:
            if command.startswith("GET VARIABLE"):
                value = await channel.get_variable("ROBOCALL_ATTEMPT")
                assert value is None or isinstance(value, str)
            else:
                result = await channel.command(command)
                assert isinstance(result, AgiResult)
                assert isinstance(result.value, int)
        except AgiError as error:
            _vietnamese_first(error)

    asyncio.run(run())


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env=ENV_BYTES, responses=RESPONSE_BYTES)
@example(env=b"agi_request: agi://[::1/x\n\n", responses=b"200 result=1\n")
def test_the_server_survives_any_peer(caplog: pytest.LogCaptureFixture, env: bytes, responses: bytes) -> None:
    """Over a real socket: every connection ends as ok, refused or failed with a warning saying why (no
    traceback: the peer's bytes are no bug of ours); nothing escapes to the loop."""
    caplog.clear()
    escaped: list[dict[str, Any]] = []

    async def session(agi: AgiChannel) -> None:
        await agi.get_variable("ROBOCALL_ATTEMPT")
        await agi.command("ANSWER")

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: escaped.append(context))
        server = FastAgiServer(session, "127.0.0.1", 0, env_timeout=0.5, command_timeout=0.5)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(env + responses)
            await writer.drain()
            writer.write_eof()
            await asyncio.wait_for(reader.read(), 5)  # the server closes its side when it is done
            writer.close()
            for _ in range(100):
                if not server.active:
                    break
                await asyncio.sleep(0.01)
        finally:
            await server.close()

    with caplog.at_level(logging.WARNING, "robocall.telephony.asterisk.fastagi"):
        asyncio.run(main())
    assert not escaped, escaped
    for record in caplog.records:
        assert record.levelno == logging.WARNING and not record.exc_info, record.getMessage()
        assert " / " in record.getMessage(), record.getMessage()  # the AgiError's "Vietnamese / English"
