"""The FastAGI server against a fake Asterisk speaking the protocol, one behaviour per test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from robocall.telephony.asterisk.fastagi import AgiChannel, AgiError, AgiHangup, AgiResult, FastAgiServer, parse_result

ENV = b"agi_network: yes\nagi_network_script: outbound\nagi_request: agi://127.0.0.1/outbound?x=1\n" \
      b"agi_channel: Local/0912000001@residents-00000001;1\nagi_callerid: 0912000001\n\n"


def test_parse_result_reads_value_data_and_extras() -> None:
    assert parse_result("200 result=1 (yes it is)") == AgiResult(200, "1", "yes it is", {})
    assert parse_result("200 result=0 endpos=8000") == AgiResult(200, "0", None, {"endpos": "8000"})
    assert parse_result("200 result= (timeout)") == AgiResult(200, "", "timeout", {})
    assert parse_result("200 result=375 (timeout)").result == "375"
    assert parse_result("200 result=-1").value == -1
    with pytest.raises(AgiError):
        parse_result("201 whatever")


class FakeAsterisk:
    """Connects like Asterisk, sends the environment, then answers each command from a script."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[str] = []

    async def call(self, answers: list[bytes | None], env: bytes = ENV) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(env)
        for answer in answers:
            line = await reader.readline()
            if not line:
                break
            self.commands.append(line.decode().strip())
            if answer is None:  # EOF in the middle of the command
                break
            writer.write(answer)
            await writer.drain()
        writer.close()


def run_server(session: Callable[[AgiChannel], Awaitable[None]],
               client: Callable[[FastAgiServer], Awaitable[None]], **kw: float) -> FastAgiServer:
    async def main() -> FastAgiServer:
        server = FastAgiServer(session, "127.0.0.1", 0, **kw)
        await server.start()
        try:
            await asyncio.wait_for(client(server), 10)
            for _ in range(100):  # let the sessions finish
                if not server.active:
                    break
                await asyncio.sleep(0.01)
        finally:
            await server.close()
        return server

    return asyncio.run(main())


def test_results_hangup_lines_and_error_codes_are_told_apart() -> None:
    seen: list[object] = []

    async def session(agi: AgiChannel) -> None:
        seen.append((agi.script, agi.query, agi.env["agi_callerid"]))
        seen.append(await agi.get_variable("ROBOCALL_ATTEMPT"))
        seen.append(await agi.get_variable("UNSET"))
        for command in ("FOO", "GET DATA"):
            with pytest.raises(AgiError) as info:
                await agi.command(command)
            seen.append(type(info.value).__name__ + ":" + str(info.value)[:20])
        seen.append((await agi.command("STREAM FILE x \"\"")).result)
        seen.append(agi.hung_up)
        with pytest.raises(AgiHangup):
            await agi.command("WAIT FOR DIGIT 1000")
        seen.append("done")

    async def client(server: FastAgiServer) -> None:
        await FakeAsterisk(server.port).call([
            b"200 result=1 (42)\n", b"200 result=0\n", b"510 Invalid or unknown command\n",
            b"520-Invalid command syntax.  Proper usage follows:\nUsage: GET DATA <file>\n520 End of proper usage.\n",
            b"HANGUP\n200 result=-1 endpos=0\n", b"511 Command Not Permitted on a dead channel\n"])

    run_server(session, client)
    assert seen == [("outbound", {"x": "1"}, "0912000001"), "42", None, "AgiError:Asterisk không biết ",
                    "AgiError:lệnh AGI GET DATA dù", "-1", True, "done"]


def test_eof_in_the_middle_of_a_command_is_a_hangup() -> None:
    outcome: list[str] = []

    async def session(agi: AgiChannel) -> None:
        try:
            await agi.command("GET DATA prompt 5000 3")
        except AgiHangup:
            outcome.append("hangup")

    async def client(server: FastAgiServer) -> None:
        await FakeAsterisk(server.port).call([None])

    run_server(session, client)
    assert outcome == ["hangup"]


def test_garbage_silent_early_eof_and_slow_peers_do_not_hold_up_a_good_call() -> None:
    finished: list[float] = []

    async def session(agi: AgiChannel) -> None:
        await agi.command("ANSWER")
        finished.append(time.monotonic())

    async def client(server: FastAgiServer) -> None:
        start = time.monotonic()
        silent = await asyncio.open_connection("127.0.0.1", server.port)  # sends nothing at all
        early = await asyncio.open_connection("127.0.0.1", server.port)
        early[1].close()  # closes before any environment
        garbage = await asyncio.open_connection("127.0.0.1", server.port)
        garbage[1].write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        slow = FakeAsterisk(server.port)  # sends its environment but never answers a command
        slow_task = asyncio.create_task(slow.call([b"", b""]))
        long_line = await asyncio.open_connection("127.0.0.1", server.port)
        long_line[1].write(b"agi_x: " + b"a" * 20000 + b"\n")
        await FakeAsterisk(server.port).call([b"200 result=0\n"])
        while not finished and time.monotonic() - start < 0.5:
            await asyncio.sleep(0.01)
        assert finished and finished[0] - start < 0.5, "the good call waited for a bad peer"
        await asyncio.sleep(1.3)  # past env_timeout and command_timeout
        silent[1].close()
        long_line[1].close()
        garbage[1].close()
        slow_task.cancel()

    server = run_server(session, client, env_timeout=1.0, command_timeout=1.0)
    assert server.refused == 4  # silent, early EOF, garbage, too long a line
    assert server.failed == 1  # the slow peer's command timed out
    assert len(finished) == 1
