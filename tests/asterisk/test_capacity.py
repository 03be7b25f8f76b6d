"""The dialer plans by the Asterisk servers' channel limits: the sum of the limits of the servers that
are up (capped by MAX_CHANNELS when it is set), and the calls of a server that dropped are closed by the
serve process's reconciling so their channels are planned again."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import DialLimits, dial_tick, plan_day, planned_channels
from robocall.campaigns.jobs import WorkerContext
from robocall.conversations.calls import RecordedCalls
from robocall.models import CallAttempt, CallCampaign, CallState, Contact
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import AmiThread, AsteriskBackend, Server
from robocall.telephony.asterisk.instance import AsteriskProcess, free_port
from robocall.telephony.asterisk.reconcile import Reconciler, open_attempts
from tests.asterisk.calls import TEMPLATES, add_attempts, check_flow
from tests.asterisk.conftest import AMI_SECRET, VN_TZ

DAY = dt.date(2021, 8, 11)
POLICY = CallPolicy()


def test_planned_channels_are_the_backends_capacity_capped_by_max_channels_when_set() -> None:
    assert planned_channels(30, max_channels_set=False, capacity=None) == 30  # simulator, Twilio
    assert planned_channels(30, max_channels_set=False, capacity=90) == 90  # the default does not cap
    assert planned_channels(40, max_channels_set=True, capacity=90) == 40
    assert planned_channels(40, max_channels_set=True, capacity=20) == 20
    assert planned_channels(40, max_channels_set=True, capacity=0) == 0  # every server down: no call


def test_the_dialer_plans_by_the_limits_of_the_servers_that_are_up(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine) -> None:
    one, two = asterisk_factory(), asterisk_factory()
    flow = check_flow()
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)

    def server(name: str, process: AsteriskProcess, limit: int) -> Server:
        client = AmiClient("127.0.0.1", process.layout.ami_port, "robocall", AMI_SECRET, backoff=(0.1, 0.5))
        return Server(name, AmiThread(client), limit)

    backend = AsteriskBackend(handlers, [server("one", one, 2), server("two", two, 1)], TEMPLATES,
                              engine=migrated)
    try:
        for each in backend.servers:
            each.ami.call(each.ami.client.wait_ready(20))
        ctx = WorkerContext(migrated, {flow.name: flow}, POLICY, DialLimits(max_channels=30, calls_per_second=100),
                            handlers, backend, max_channels_set=False)
        assert backend.capacity() == 3
        assert ctx.dial_limits().max_channels == 3
        assert dataclasses.replace(ctx, max_channels_set=True, limits=DialLimits(max_channels=2)
                                   ).dial_limits().max_channels == 2
        one.stop()  # server "one" goes away: only "two" carries calls now
        deadline = time.monotonic() + 20
        while backend.servers[0].ami.client.ready:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert backend.capacity() == 1
        assert ctx.dial_limits().max_channels == 1
        # Four contacts due: one tick starts one call, the one channel left.
        with DbSession(migrated) as db:
            for i in range(4):
                db.add(Contact(phone=f"+8491200007{i}", category="F1", exposure_date=DAY - dt.timedelta(days=2),
                               monitoring_end=DAY + dt.timedelta(days=5)))
            db.add(CallCampaign(name="F1", flow=flow.name, categories="F1"))
            db.commit()
        assert plan_day(migrated, DAY, POLICY) == 4
        opens = POLICY.window_opens(DAY)
        assert len(dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, ctx.dial_limits())) == 1
    finally:
        backend.close()


def test_the_open_calls_of_a_server_that_dropped_are_closed_after_the_grace(migrated: Engine) -> None:
    flow = check_flow()
    ids = add_attempts(migrated, ["+84912000051", "+84912000052"], flow.name, dt.date.today())
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    with DbSession(migrated) as db:
        for phone, server in (("+84912000051", "gone"), ("+84912000052", "")):
            attempt = db.get(CallAttempt, ids[phone])
            assert attempt is not None
            attempt.state, attempt.dialled_at, attempt.backend = CallState.DIALLING, long_ago, "asterisk"
            attempt.backend_call_id = f"{server}/robocall-{attempt.id}-1" if server else f"robocall-{attempt.id}-1"
            db.add(attempt)
        db.commit()
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)

    async def main() -> tuple[list[int], list[int]]:
        gone = AmiClient("127.0.0.1", free_port(), "robocall", AMI_SECRET, backoff=(5, 5))  # nothing listens
        await gone.start(wait=None)
        try:
            reconciler = Reconciler({"gone": gone}, handlers, lambda before: open_attempts(migrated, before),
                                    lambda: (), dt.timedelta(seconds=60))
            first = await reconciler.once()  # just noticed it is down: its calls may still be up
            reconciler.down_since["gone"] -= dt.timedelta(seconds=61)  # ... and a minute later
            return first, await reconciler.once()
        finally:
            await gone.close()

    first, later = asyncio.run(main())
    assert first == [] and later == [ids["+84912000051"]]  # the call with no server recorded waits
    with DbSession(migrated) as db:
        closed = db.get(CallAttempt, ids["+84912000051"])
        assert closed is not None
        assert (closed.state, closed.end_reason) == (CallState.FAILED, "Asterisk gone dropped")
