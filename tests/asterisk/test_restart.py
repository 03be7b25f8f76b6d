"""Asterisk is killed in the middle of a campaign and started again: the call on the line ends as a
hang-up, the call that was ringing (no OriginateResponse will ever come) is found missing from the live
channels and closed, a call ringing after the restart is left alone, and both AMI clients log in again."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.conversations.calls import RecordedCalls
from robocall.models import CallState
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import open_attempts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.telephony.base import CallRequest
from tests.asterisk.calls import TEMPLATES, add_attempts, check_flow, outcomes
from tests.asterisk.conftest import AMI_SECRET, VN_TZ
from tests.asterisk.residents import NO_ANSWER, residents_conf


def test_asterisk_restart_mid_campaign(asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine,
                                       agi_port: int, short_tmp: Path,
        prompts: RenderedPrompts) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        "0912000003": ["Answer()", "Wait(30)"],  # on the line (silent) when Asterisk stops
        "0912000008": NO_ANSWER,  # still ringing when Asterisk stops
        "0912000009": NO_ANSWER,  # ringing after the restart while the reconciler looks
        "0912000002": ["Answer()", "Wait(1.6)", "SendDTMF(2)", "Wait(15)"],  # called after the restart
    })})
    flow = check_flow()
    ids = add_attempts(migrated, ["+84912000003", "+84912000008"], flow.name, dt.date.today())
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)
    config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                           "127.0.0.1", agi_port, "", {"default": "hotline"}, ring_timeout=25)

    def request(phone: str) -> CallRequest:
        return CallRequest(ids[phone], phone, "02343822000", dt.datetime.now(dt.UTC), "asterisk_check")

    async def wait_for(check: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not await asyncio.to_thread(check):
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.2)

    async def main() -> list[int]:
        service = AsteriskService(config, handlers, prompts, lambda before: open_attempts(migrated, before))
        service.ami.backoff = (0.1, 0.5)
        await service.start()
        await service.ami.wait_ready(20)
        worker_ami = AmiClient("127.0.0.1", asterisk.layout.ami_port, "robocall", AMI_SECRET, backoff=(0.1, 0.5))
        backend = AsteriskBackend(handlers, AmiThread(worker_ami), TEMPLATES, ring_timeout=25, amd=False,
                                  engine=migrated)
        try:
            await asyncio.to_thread(backend.place_call, request("+84912000003"))
            await asyncio.to_thread(backend.place_call, request("+84912000008"))
            await wait_for(lambda: 3 in service.app.active or bool(service.app.active), 10)
            assert asterisk.process is not None
            asterisk.process.kill()  # a crash: no OriginateResponse, no clean hang-ups
            await asyncio.to_thread(asterisk.process.wait)
            await asyncio.to_thread(asterisk.start)
            await service.ami.wait_ready(20)
            assert service.ami.connections == 2
            await wait_for(lambda: outcomes(migrated, {"p": ids["+84912000003"]})["p"]["state"]
                           == CallState.COMPLETED, 10)
            assert service.reconciler is not None
            service.reconciler.grace = dt.timedelta(0)
            ids.update(await asyncio.to_thread(add_attempts, migrated, ["+84912000009"], flow.name, dt.date.today()))
            await asyncio.to_thread(backend.place_call, request("+84912000009"))
            await asyncio.sleep(0.5)
            closed = await service.reconciler.once()
            ids.update(await asyncio.to_thread(add_attempts, migrated, ["+84912000002"], flow.name, dt.date.today()))
            await asyncio.to_thread(backend.place_call, request("+84912000002"))  # the worker's AMI logged in again
            await wait_for(lambda: outcomes(migrated, {"p": ids["+84912000002"]})["p"]["state"]
                           == CallState.COMPLETED, 20)
            return closed
        finally:
            await asyncio.to_thread(backend.ami.close)
            await service.close()

    closed = asyncio.run(main())
    found = outcomes(migrated, ids)
    assert closed == [ids["+84912000008"]]
    assert (found["+84912000003"]["state"], found["+84912000003"]["reason"]) == (CallState.COMPLETED, "caller_hangup")
    assert found["+84912000008"]["state"] == CallState.FAILED
    assert found["+84912000009"]["state"] == CallState.DIALLING  # still ringing when the test ended
    assert found["+84912000002"]["answers"] == {"fever": False}
