"""The hotline on the real Asterisk: residents call in through the dialplan (a Local channel into
[robocall-hotline] with their caller id).  An unknown number becomes a contact of category `other`;
a caller who hangs up during the greeting, and one refused busy because every channel is in use (the
dialplan's GROUP_COUNT) or the call service is full, become callback cases."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.conversations.calls import RecordedCalls
from robocall.models import Answer, CallAttempt, CallState, Contact, Escalation
from robocall.telephony.asterisk.ami import AmiClient
from robocall.telephony.asterisk.backend import live_attempt_ids, originate_fields
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.ivr import utcnow
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import open_attempts
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig
from robocall.telephony.base import CallRequest
from tests.asterisk.calls import TEMPLATES, add_attempts, check_flow
from tests.asterisk.conftest import AMI_SECRET, VN_TZ
from tests.asterisk.residents import residents_conf

HOTLINE = "19009095"
ANSWERS = "0912000041"  # unknown number: answers "no fever" while the question plays
HANGS_UP = "0912000042"  # unknown number: hangs up during the greeting
REFUSED = "0912000043"  # calls while every channel is in use
ON_THE_LINE = "0912000044"  # an outbound call that holds the channel meanwhile


def e164(national: str) -> str:
    return "+84" + national[1:]


async def ring_hotline(ami: AmiClient, caller: str) -> None:
    """The resident `caller` dials the hotline: their side then follows their [residents] script."""
    await ami.originate(f"Local/{HOTLINE}@robocall-hotline", context="residents", exten=caller,
                        caller_id=f'"" <{caller}>', timeout_ms=10000, action_id=f"caller-{caller}")


async def until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        await asyncio.sleep(0.1)


def hotline_calls(engine: Engine) -> dict[str, CallAttempt]:
    with DbSession(engine) as db:
        return {a.phone: a for a in db.exec(select(CallAttempt).where(CallAttempt.direction == "inbound"))
                if a.ended_at is not None}


def cases(engine: Engine) -> Mapping[int | None, str]:
    with DbSession(engine) as db:
        return {e.attempt_id: f"{e.rule}/{e.level}/{e.callback}" for e in db.exec(select(Escalation))}


def service_for(asterisk: AsteriskProcess, migrated: Engine, agi_port: int, prompts: RenderedPrompts,
                max_calls: int = 0) -> AsteriskService:
    flow = check_flow()
    config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                           "127.0.0.1", agi_port, prompts.asterisk_dir, {HOTLINE: flow.name, "default": "hotline"},
                           max_calls=max_calls)
    return AsteriskService(config, RecordedCalls(migrated, {flow.name: flow}, VN_TZ), prompts)


def test_unknown_callers_become_contacts_and_one_who_hangs_up_in_the_greeting_is_a_callback(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        ANSWERS: ["Wait(1.6)", "SendDTMF(2)", "Wait(10)"],
        HANGS_UP: ["Wait(0.4)"],
    })})

    async def main() -> None:
        service = service_for(asterisk, migrated, agi_port, prompts)
        await service.start()
        try:
            await service.ami.wait_ready(20)
            for caller in (ANSWERS, HANGS_UP):
                await ring_hotline(service.ami, caller)
            await until(lambda: len(hotline_calls(migrated)) == 2, "both hotline calls to be recorded")
        finally:
            await service.close()

    asyncio.run(main())
    calls = hotline_calls(migrated)
    with DbSession(migrated) as db:
        contacts = {c.phone: c for c in db.exec(select(Contact))}
        answers = {a.attempt_id: {a.question: a.value} for a in db.exec(select(Answer))}
    for caller in (ANSWERS, HANGS_UP):
        contact = contacts[e164(caller)]
        assert (contact.category, contact.source_list) == ("other", f"hotline {HOTLINE}")
        assert calls[e164(caller)].contact_id == contact.id
    answered, abandoned = calls[e164(ANSWERS)], calls[e164(HANGS_UP)]
    assert (answered.state, answered.end_reason) == (CallState.COMPLETED, "completed")
    assert answers[answered.id] == {"fever": False}
    assert (abandoned.state, abandoned.end_reason) == (CallState.COMPLETED, "caller_hangup")
    assert cases(migrated) == {abandoned.id: "missed_hotline_call/callback/True"}


@pytest.mark.parametrize("full", ["channels", "service"])
def test_a_hotline_call_refused_busy_because_everything_is_in_use_is_a_callback(
        full: str, asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    # "channels": the server carries one call at most, so the dialplan refuses the hotline call before
    # answering; "service": the server has room, but the serve process already runs its one call.
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        ON_THE_LINE: ["Answer()", "Wait(20)"], REFUSED: ["Wait(10)"]})},
        channel_limit=1 if full == "channels" else 5)
    flow = check_flow()
    outbound = add_attempts(migrated, [e164(ON_THE_LINE)], flow.name, dt.date.today())[e164(ON_THE_LINE)]

    async def main() -> None:
        service = service_for(asterisk, migrated, agi_port, prompts, max_calls=1 if full == "service" else 0)
        await service.start()
        try:
            await service.ami.wait_ready(20)
            request = CallRequest(outbound, e164(ON_THE_LINE), "", dt.datetime.now(dt.UTC), flow.name)
            await service.ami.originate(**originate_fields(request, TEMPLATES, 5, amd=False))  # type: ignore[arg-type]
            await until(lambda: outbound in service.app.active, "the outbound call to be answered")
            await ring_hotline(service.ami, REFUSED)
            await until(lambda: e164(REFUSED) in hotline_calls(migrated), "the refused call to be recorded")
        finally:
            await service.close()

    asyncio.run(main())
    refused = hotline_calls(migrated)[e164(REFUSED)]
    reason = "busy: every channel in use" if full == "channels" else "busy: the call service is full"
    assert (refused.state, refused.end_reason, refused.answered_at) == (CallState.BUSY, reason, None)
    assert cases(migrated)[refused.id] == "missed_hotline_call/callback/True"


def test_a_hotline_call_is_on_its_channel_so_reconciling_after_a_crash_can_close_it(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    """The hotline attempt is Asterisk's (the reconciler's candidates are its backend's open calls) and
    its channel carries ROBOCALL_ATTEMPT while the caller is on the line (what reconciling asks
    Asterisk for); an attempt lost in a crash is then closed as a hotline call, with a callback case."""
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({ANSWERS: ["Wait(30)"]})})
    flow = check_flow()
    calls = RecordedCalls(migrated, {flow.name: flow}, VN_TZ, backend="asterisk")

    def open_inbound() -> list[CallAttempt]:
        with DbSession(migrated) as db:
            return list(db.exec(select(CallAttempt).where(CallAttempt.direction == "inbound",
                                                          col(CallAttempt.ended_at).is_(None))))

    async def main() -> tuple[int, set[int], list[int]]:
        config = ServiceConfig("127.0.0.1", asterisk.layout.ami_port, asterisk.layout.ami_user, AMI_SECRET,
                               "127.0.0.1", agi_port, prompts.asterisk_dir, {HOTLINE: flow.name})
        service = AsteriskService(config, calls, prompts)
        await service.start()
        try:
            await service.ami.wait_ready(20)
            await ring_hotline(service.ami, ANSWERS)
            await until(lambda: len(open_inbound()) == 1, "the hotline call to start")
            attempt_id = open_inbound()[0].id
            assert attempt_id is not None
            live: set[int] = set()
            deadline = time.monotonic() + 10
            while attempt_id not in live and time.monotonic() < deadline:
                live = await live_attempt_ids(service.ami)
                await asyncio.sleep(0.1)
            candidates = [found[0] for found in open_attempts(migrated, utcnow() + dt.timedelta(hours=1))]
        finally:
            await service.close()
        return attempt_id, live, candidates

    attempt_id, live, candidates = asyncio.run(main())
    assert attempt_id in live and attempt_id in candidates
    with DbSession(migrated) as db:
        attempt = db.get(CallAttempt, attempt_id)
        assert attempt is not None and attempt.backend == "asterisk"


def test_an_open_hotline_call_closed_by_reconciling_ends_as_a_hotline_call(migrated: Engine) -> None:
    """What the reconciler does with a hotline attempt Asterisk no longer has: the handler of the
    attempt (RecordedCalls.outbound) ends it as the hotline call it was: a callback case, no follow-up."""
    flow = check_flow()
    calls = RecordedCalls(migrated, {flow.name: flow}, VN_TZ, after_outbound=lambda db, saved: 1 / 0,
                          backend="asterisk")
    at = dt.datetime(2021, 8, 11, 3, 0, tzinfo=dt.UTC)
    handler = calls.inbound(e164(ANSWERS), at, flow.name, HOTLINE)
    assert handler is not None
    calls.outbound(handler.attempt_id, at).ended(CallState.FAILED, at + dt.timedelta(minutes=5), "lost in a crash")
    with DbSession(migrated) as db:
        attempt = db.get(CallAttempt, handler.attempt_id)
        assert attempt is not None and attempt.ended_at is not None and attempt.backend == "asterisk"
    assert cases(migrated) == {handler.attempt_id: "missed_hotline_call/callback/True"}
