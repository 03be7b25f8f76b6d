"""A hotline call over real SIP: SIPp calls Asterisk's chan_sip, the call reaches the FastAGI server as an
inbound call, the caller declares a fever of 38.9 with RFC 2833 keys and the escalation is in the database."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.conversations.calls import RecordedCalls
from robocall.models import Answer, CallAttempt, CallState, Escalation
from robocall.telephony.asterisk.instance import AsteriskProcess, free_port
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from tests.asterisk.calls import check_flow
from tests.asterisk.conftest import AMI_SECRET, VN_TZ

SCENARIO = Path(__file__).parent / "sipp" / "hotline_dtmf.xml"


def trunk(sipp_port: int) -> str:
    return f"""[sipp]
type = friend
host = 127.0.0.1
port = {sipp_port}
insecure = port,invite
context = robocall-hotline
disallow = all
allow = ulaw
dtmfmode = rfc2833
qualify = no
directmedia = no
"""


def test_an_inbound_sip_call_declares_a_fever_and_raises_an_escalation(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int, short_tmp: Path,
        prompts: RenderedPrompts) -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp is missing: run `make setup` (installs Debian's sip-tester)", pytrace=False)
    if os.geteuid() != 0:
        pytest.skip("SIPp replays RFC 2833 DTMF through a raw socket: needs root or CAP_NET_RAW")
    sipp_port, media_port = free_port(2), free_port(2) & ~1
    asterisk = asterisk_factory({"sip_trunks.conf": trunk(sipp_port)})
    flow = check_flow()
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)
    config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                           "127.0.0.1", agi_port, "", {"19009095": flow.name, "default": "hotline"})

    async def main() -> tuple[int, bytes]:
        service = AsteriskService(config, handlers, prompts)
        await service.start()
        try:
            sipp = await asyncio.create_subprocess_exec(
                "sipp", f"127.0.0.1:{asterisk.layout.sip_port}", "-sf", str(SCENARIO), "-s", "19009095",
                "-i", "127.0.0.1", "-p", str(sipp_port), "-mi", "127.0.0.1", "-mp", str(media_port),
                "-m", "1", "-l", "1", "-timeout", "40s", "-trace_err",
                cwd=short_tmp, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(sipp.communicate(), 60)
            for _ in range(50):  # the handler writes once the AGI session ends
                if service.agi.active == 0:
                    break
                await asyncio.sleep(0.1)
            return sipp.returncode or 0, out
        finally:
            await service.close()

    code, out = asyncio.run(main())
    assert code == 0, out.decode(errors="replace")[-2000:]
    with DbSession(migrated) as db:
        attempt = db.exec(select(CallAttempt)).one()
        assert (attempt.direction, attempt.phone, attempt.state) == ("inbound", "+84912000021", CallState.COMPLETED)
        answers = {a.question: a.value for a in db.exec(select(Answer)).all()}
        assert answers == {"fever": True, "temperature": 38.9}
        escalation = db.exec(select(Escalation)).one()
        assert (escalation.rule, escalation.level, escalation.attempt_id) == ("sot_cao", "urgent", attempt.id)
