"""The FastAGI server with the real Asterisk on the other end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.fastagi import AgiChannel, AgiHangup, FastAgiServer
from robocall.telephony.asterisk.instance import AsteriskProcess
from tests.asterisk.conftest import AMI_SECRET
from tests.asterisk.residents import residents_conf


def test_keys_variables_and_a_hangup_from_the_real_asterisk(
        asterisk_factory: Callable[..., AsteriskProcess], agi_port: int) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        "0912000001": ["Answer()", "Wait(0.5)", "SendDTMF(1)", "Wait(1.5)"],  # presses 1, then hangs up
    })})
    seen: list[object] = []
    ended = asyncio.Event()

    async def session(agi: AgiChannel) -> None:
        try:
            seen.append(agi.script)
            seen.append(await agi.get_variable("ROBOCALL_ATTEMPT"))
            seen.append((await agi.command("WAIT FOR DIGIT 5000")).value)
            seen.append((await agi.command("WAIT FOR DIGIT 5000")).value)  # the resident hangs up meanwhile
            try:
                await agi.command("WAIT FOR DIGIT 1000")
            except AgiHangup:
                seen.append("hangup")
            seen.append(agi.hung_up)
        finally:
            ended.set()

    async def run() -> None:
        server = FastAgiServer(session, "127.0.0.1", agi_port)
        await server.start()
        ami = AmiClient("127.0.0.1", asterisk.layout.ami_port, "robocall", AMI_SECRET)
        await ami.start()
        try:
            await ami.originate("Local/0912000001@residents", context="robocall-outbound",
                                variables={"ROBOCALL_ATTEMPT": "77", "ROBOCALL_AMD": "no"})
            await asyncio.wait_for(ended.wait(), 15)
        finally:
            await ami.close()
            await server.close()

    asyncio.run(run())
    assert seen == ["outbound", "77", ord("1"), -1, "hangup", True]
