from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from robocall.telephony.asterisk.ami import AmiClient, AmiError, Message, encode, parse
from robocall.telephony.asterisk.instance import AsteriskProcess
from tests.asterisk.conftest import AMI_SECRET
from tests.asterisk.residents import BUSY, CONGESTION, NO_ANSWER, residents_conf

RESIDENTS = {"extensions_residents.conf": residents_conf({
    "0912000001": ["Answer()", "Wait(1)"], "0912000002": BUSY, "0912000003": CONGESTION, "0912000004": NO_ANSWER,
})}


def client_for(asterisk: AsteriskProcess, **kw: object) -> AmiClient:
    return AmiClient("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET, **kw)  # type: ignore[arg-type]


def test_encode_and_parse_keep_repeated_keys_and_refuse_line_breaks() -> None:
    block = encode([("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2")])
    assert block == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    assert parse(block).all("variable") == ["A=1", "B=2"]
    with pytest.raises(ValueError, match="one line"):
        encode({"Channel": "SIP/1\r\nAction: Command"})


async def _originate_outcomes(asterisk: AsteriskProcess) -> dict[str, Message]:
    client = client_for(asterisk)
    outcomes: dict[str, Message] = {}
    done = asyncio.Event()

    async def on_event(message: Message) -> None:
        outcomes[message.get("ActionID")] = message
        if len(outcomes) == 4:
            done.set()

    client.subscribe(on_event, lambda m: m.event == "OriginateResponse")
    await client.start()
    try:
        for n in ("1", "2", "3", "4"):
            ack = await client.originate(f"Local/091200000{n}@residents", context="robocall-outbound",
                                         timeout_ms=3000, variables={"ROBOCALL_ATTEMPT": n, "ROBOCALL_AMD": "no"},
                                         action_id=f"call-{n}")
            assert ack.ok
        await asyncio.wait_for(done.wait(), 20)
    finally:
        await client.close()
    return outcomes


def test_originate_outcomes_answered_busy_congestion_no_answer(asterisk_factory: Callable[..., AsteriskProcess]) -> None:
    asterisk = asterisk_factory(RESIDENTS)
    outcomes = asyncio.run(_originate_outcomes(asterisk))
    assert {k: v.get("Reason") for k, v in outcomes.items()} == {
        "call-1": "4", "call-2": "5", "call-3": "8", "call-4": "3"}


def test_wrong_secret_is_refused_and_unknown_actions_raise(asterisk: AsteriskProcess) -> None:
    async def run() -> None:
        bad = AmiClient("127.0.0.1", asterisk.layout.ami_port, "robocall", "wrong", backoff=(5, 5))
        with pytest.raises(AmiError, match="not logged in"):
            await bad.start(wait=1.5)
        await bad.close()
        good = client_for(asterisk)
        await good.start()
        try:
            assert (await good.action("Ping")).get("Ping") == "Pong"
            with pytest.raises(AmiError, match="refused"):
                await good.action("Reload")  # needs the system/config write privilege robocall lacks
        finally:
            await good.close()

    asyncio.run(run())


def test_a_slow_subscriber_does_not_hold_up_responses(asterisk: AsteriskProcess) -> None:
    async def run() -> None:
        client = client_for(asterisk)
        release = asyncio.Event()

        async def stuck(message: Message) -> None:
            await release.wait()

        client.subscribe(stuck)
        await client.start()
        try:
            pings = await asyncio.wait_for(asyncio.gather(*(client.action("Ping") for _ in range(20))), 5)
            assert all(p.get("Ping") == "Pong" for p in pings)
            channels = await client.action_list("CoreShowChannels")
            assert channels == []
        finally:
            release.set()
            await client.close()

    asyncio.run(run())


def test_reconnects_and_logs_in_again_after_asterisk_restarts(asterisk_factory: Callable[..., AsteriskProcess]) -> None:
    asterisk = asterisk_factory(RESIDENTS)

    async def run() -> None:
        client = client_for(asterisk, ping_interval=0.5, backoff=(0.1, 0.5))
        await client.start()
        try:
            assert client.connections == 1
            await asyncio.to_thread(asterisk.stop)
            with pytest.raises(AmiError):
                await client.action("Ping")
            await asyncio.to_thread(asterisk.start)
            await client.wait_ready(20)
            assert client.connections == 2
            assert (await client.action("Ping")).get("Ping") == "Pong"
        finally:
            await client.close()

    asyncio.run(run())


def test_a_peer_that_stops_answering_pings_is_dropped_and_reconnected() -> None:
    """Keep-alive: an AMI that accepts the login and then goes silent (a hung Asterisk, a cut link)."""
    logins: list[int] = []

    async def fake_ami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        login = parse(await reader.readuntil(b"\r\n\r\n"))
        logins.append(1)
        writer.write(encode([("Response", "Success"), ("ActionID", login.get("ActionID")),
                             ("Message", "Authentication accepted")]))
        writer.write(encode([("Event", "FullyBooted"), ("Status", "Fully Booted")]))
        if len(logins) == 1:
            await reader.read()  # the first connection never answers again (not even Ping)
        else:
            while True:
                action = parse(await reader.readuntil(b"\r\n\r\n"))
                writer.write(encode([("Response", "Success"), ("ActionID", action.get("ActionID")), ("Ping", "Pong")]))

    async def run() -> None:
        server = await asyncio.start_server(fake_ami, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = AmiClient("127.0.0.1", port, "robocall", "x", ping_interval=0.2, action_timeout=0.5,
                           backoff=(0.1, 0.2))
        try:
            await client.start(wait=5)
            deadline = asyncio.get_running_loop().time() + 5
            while client.connections < 2:
                assert asyncio.get_running_loop().time() < deadline, "never reconnected"
                await asyncio.sleep(0.05)
            await client.wait_ready(5)
            assert (await client.action("Ping")).get("Ping") == "Pong"
        finally:
            await client.close()
            server.close()

    asyncio.run(run())
    assert len(logins) >= 2
