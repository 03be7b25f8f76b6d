"""PhoneBackend.hang_up: the dialer ends a call that is on the line; the flow records a hang-up."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from robocall.conversations.calls import RecordedCalls
from robocall.models import CallState
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.telephony.base import CallRequest
from tests.asterisk.calls import TEMPLATES, add_attempts, check_flow, outcomes
from tests.asterisk.conftest import AMI_SECRET, VN_TZ
from tests.asterisk.residents import residents_conf


def test_hang_up_ends_the_call_on_the_line_and_is_a_no_op_afterwards(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({"0912000003": ["Answer()", "Wait(30)"]})})
    flow = check_flow()
    ids = add_attempts(migrated, ["+84912000003"], flow.name, dt.date.today())
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)
    config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                           "127.0.0.1", agi_port, "", {"default": "hotline"})

    async def main() -> float:
        service = AsteriskService(config, handlers, prompts)
        await service.start()
        await service.ami.wait_ready(20)
        backend = AsteriskBackend(handlers, AmiThread(AmiClient("127.0.0.1", asterisk.layout.ami_port, "robocall",
                                                                AMI_SECRET)), TEMPLATES, engine=migrated)
        try:
            request = CallRequest(ids["+84912000003"], "+84912000003", "", dt.datetime.now(dt.UTC), flow.name)
            await asyncio.to_thread(backend.place_call, request)
            while not service.app.active:
                await asyncio.sleep(0.05)
            began = time.monotonic()
            await asyncio.to_thread(backend.hang_up, request.attempt_id)
            while outcomes(migrated, ids)["+84912000003"]["state"] != CallState.COMPLETED:
                assert time.monotonic() - began < 10
                await asyncio.sleep(0.1)
            await asyncio.to_thread(backend.hang_up, request.attempt_id)  # nothing left to hang up
            return time.monotonic() - began
        finally:
            await asyncio.to_thread(backend.ami.close)
            await service.close()

    took = asyncio.run(main())
    found = outcomes(migrated, ids)["+84912000003"]
    assert (found["state"], found["reason"], found["answered"]) == (CallState.COMPLETED, "caller_hangup", True)
    assert took < 5  # ended by the hang-up, not by the resident's 30 s
