"""Group commit of the gather webhooks: many calls' answers in one transaction, each answered only
after it is committed; a call's duplicates in one batch stay idempotent; one bad step spoils no other."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Sequence

from test_twilio_webhooks import live, params
from voicehelp import VoiceWorld

from robocall.conversations.group_commit import GroupCommit
from robocall.conversations.resumable import ResumableCalls, Step, Turn
from robocall.flows.catalog import flow_catalog
from robocall.flows.engine import Digits

NOW = dt.datetime(2021, 8, 15, 8, 0, tzinfo=dt.UTC)


def answered_call(voice: VoiceWorld, calls: ResumableCalls, phone: str) -> int:
    voice.contact(phone)
    attempt_id = voice.attempt(phone)
    assert calls.dialling(attempt_id, "CA" + phone[-8:].rjust(32, "0"), NOW)
    assert calls.answered(attempt_id, NOW).turn == 1
    return attempt_id


def test_one_batch_steps_several_calls_and_a_duplicate_changes_nothing(voice: VoiceWorld) -> None:
    calls = ResumableCalls(voice.engine, flow_catalog(voice.settings).flows, voice.settings.tzinfo)
    first, second = answered_call(voice, calls, "+84911000301"), answered_call(voice, calls, "+84911000302")
    results = calls.events([Step(second, 1, Digits("1"), NOW), Step(first, 1, Digits("1"), NOW),
                            Step(first, 1, Digits("2"), NOW),  # the same Gather answered twice (a retry)
                            Step(999_999, 1, Digits("1"), NOW)])  # no such call
    assert [r.turn for r in results[:3] if isinstance(r, Turn)] == [2, 2, 2]
    assert results[1] == results[2]  # the duplicate gets the current actions again
    assert isinstance(results[3], LookupError)  # that step's own answer; the others were committed
    for attempt_id in (first, second):
        state = live(voice, attempt_id)
        assert state["turn"] == 2 and "right_person" in state["record"]["answers"]


def test_requests_that_arrive_during_a_commit_share_the_next_one_and_wait_for_it() -> None:
    committed: list[list[int]] = []
    gate = threading.Event()

    def run_batch(items: Sequence[int]) -> list[int | Exception]:
        if not committed:
            gate.wait(5)  # the first commit is slow: the others queue meanwhile
        committed.append(list(items))
        return [ValueError(f"bad {i}") if i == 3 else i * 10 for i in items]

    async def scenario() -> list[object]:
        group: GroupCommit[int, int] = GroupCommit(run_batch)
        first = asyncio.create_task(group.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(group.submit(i)) for i in range(1, 5)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in [first, *rest])  # nobody is answered before the commit
        gate.set()
        return list(await asyncio.gather(first, *rest, return_exceptions=True))

    results = asyncio.run(scenario())
    assert committed == [[0], [1, 2, 3, 4]]
    assert results[:3] == [0, 10, 20] and results[4] == 40
    assert isinstance(results[3], ValueError)


def test_concurrent_gathers_of_many_calls_through_the_webhooks_all_count_once(voice: VoiceWorld) -> None:
    calls = ResumableCalls(voice.engine, flow_catalog(voice.settings).flows, voice.settings.tzinfo)
    ids = [answered_call(voice, calls, f"+849110004{i:02d}") for i in range(12)]
    node = live(voice, ids[0])["session"]["node"]
    threads = [threading.Thread(target=voice.peer.post,
                                args=(voice.url(f"/{a}/gather/1?flow=f1_f2_followup&node={node}"),
                                      params(Digits="1")))
               for a in ids for _ in range(2)]  # every answer twice, at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for attempt_id in ids:
        state = live(voice, attempt_id)
        assert state["turn"] == 2 and state["session"]["node"] != node
