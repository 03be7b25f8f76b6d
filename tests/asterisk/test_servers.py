"""Two Asterisk servers in one deployment: calls spread by free channels within each server's limit,
no call beyond the sum, a server that is down avoided."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.conversations.calls import RecordedCalls
from robocall.models import CallAttempt, CallState
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend, Server
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import open_attempts
from robocall.telephony.asterisk.service import AmiEndpoint, AsteriskService, ServiceConfig
from robocall.telephony.base import CallRequest
from tests.asterisk.calls import TEMPLATES, add_attempts, check_flow, outcomes
from tests.asterisk.conftest import AMI_SECRET, VN_TZ
from tests.asterisk.residents import residents_conf

SILENT = ["Answer()", "Wait(6)"]  # on the line a few seconds


def test_calls_go_to_the_server_with_free_channels_and_never_beyond_the_limits(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    residents = {"extensions_residents.conf": residents_conf({f"091200003{i}": SILENT for i in range(5)})}
    one, two = asterisk_factory(residents), asterisk_factory(residents)
    flow = check_flow()
    phones = [f"+8491200003{i}" for i in range(5)]
    ids = add_attempts(migrated, phones, flow.name, dt.date.today())
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)
    config = ServiceConfig("127.0.0.1", one.layout.ami_port, "robocall", AMI_SECRET, "127.0.0.1", agi_port, "",
                           {"default": "hotline"}, name="one",
                           more_servers=(AmiEndpoint("two", "127.0.0.1", two.layout.ami_port, "robocall", AMI_SECRET),))

    def server(name: str, process: AsteriskProcess, limit: int) -> Server:
        client = AmiClient("127.0.0.1", process.layout.ami_port, "robocall", AMI_SECRET, backoff=(0.1, 0.5))
        return Server(name, AmiThread(client), limit)

    def server_of(numbers: list[str]) -> dict[str, str]:
        with DbSession(migrated) as db:
            return {p: (db.get(CallAttempt, ids[p]) or CallAttempt(flow="", day=dt.date.today())).backend_call_id
                    .partition("/")[0] for p in numbers}

    async def main() -> None:
        service = AsteriskService(config, handlers, prompts, lambda before: open_attempts(migrated, before))
        await service.start()
        for client in service.amis.values():
            await client.wait_ready(20)
        backend = AsteriskBackend(handlers, [server("one", one, 2), server("two", two, 1)], TEMPLATES,
                                  engine=migrated)
        try:
            for each in backend.servers:  # a worker that has logged in everywhere
                await asyncio.to_thread(each.ami.call, each.ami.client.wait_ready(20))
            for phone in phones[:4]:  # room for three: the fourth finds no free channel
                await asyncio.to_thread(backend.place_call, CallRequest(ids[phone], phone, "", dt.datetime.now(dt.UTC),
                                                                         flow.name))
            # Server "one" goes down: the fifth call goes to "two" once its call has ended.
            assert one.process is not None
            one.process.kill()  # a server lost (crash, network): its calls are gone
            await asyncio.to_thread(one.process.wait)
            on_two = [p for p, s in (await asyncio.to_thread(server_of, phones[:3])).items() if s == "two"]
            assert len(on_two) == 1
            deadline = time.monotonic() + 30
            while outcomes(migrated, {"p": ids[on_two[0]]})["p"]["state"] != CallState.COMPLETED:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            await asyncio.to_thread(backend.place_call, CallRequest(ids[phones[4]], phones[4], "",
                                                                     dt.datetime.now(dt.UTC), flow.name))
            while outcomes(migrated, {"p": ids[phones[4]]})["p"]["state"] != CallState.COMPLETED:
                assert time.monotonic() < deadline + 20
                await asyncio.sleep(0.2)
        finally:
            await asyncio.to_thread(backend.close)
            await service.close()

    asyncio.run(main())
    servers = server_of(phones)
    assert Counter(servers[p] for p in phones[:3]) == {"one": 2, "two": 1}
    assert outcomes(migrated, ids)[phones[3]]["state"] == CallState.FAILED  # no free channel anywhere
    assert servers[phones[4]] == "two"
