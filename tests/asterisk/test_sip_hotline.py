"""A hotline call over real SIP: SIPp calls Asterisk's chan_sip, the call reaches the FastAGI server as an
inbound call, the caller declares a fever of 38.9 with RFC 2833 keys, and the escalation is in the database
and on the dashboard's escalation queue, as CDC staff see it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.accounts import add_user
from robocall.config import reset_settings
from robocall.conversations.calls import RecordedCalls
from robocall.models import Answer, CallAttempt, CallState, Escalation
from robocall.telephony.asterisk.instance import AsteriskProcess, free_port
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.web.app import create_app
from tests.asterisk.calls import check_flow
from tests.asterisk.conftest import AMI_SECRET, VN_TZ

SCENARIO = Path(__file__).parent / "sipp" / "hotline_dtmf.xml"
ROOT = Path(__file__).parents[2]
STAFF, STAFF_PASSWORD = "can_bo_truc_tong_dai", "trực tổng đài ca đêm 2021"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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
        prompts: RenderedPrompts, monkeypatch: pytest.MonkeyPatch) -> None:
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

    # The dashboard's escalation queue, as CDC staff on duty see it: the call's case, urgent, number masked.
    monkeypatch.setenv("SECRET_KEY", "test secret")
    monkeypatch.setenv("FLOWS_DIR", str(ROOT / "ivr_flows"))
    reset_settings()
    add_user(migrated, STAFF, "cdc_staff", STAFF_PASSWORD)

    async def queue() -> list[dict[str, object]]:
        async with TestClient(TestServer(create_app())) as client:
            form = await (await client.get("/login")).text()
            token = CSRF.search(form)
            assert token, "no CSRF token on /login"
            await client.post("/login", data={"username": STAFF, "password": STAFF_PASSWORD,
                                              "csrf_token": token.group(1), "next": "/escalations"})
            response = await client.get("/api/v1/escalations")
            assert response.status == 200, await response.text()
            return list((await response.json())["rows"])

    rows = asyncio.run(queue())
    assert [(row["id"], row["level"]) for row in rows] == [(escalation.id, "urgent")]
    assert "+84912000021" not in str(rows)  # masked: the full number only through an audited reveal
