"""The simulated phone network: deterministic calls in virtual time, driving a real flow."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

from simhelp import (
    AFTERNOON,
    EXPOSED,
    FLOWS,
    FOLLOWUP,
    PERFECT,
    RETURNEE,
    EngineHandler,
    request,
    resident,
)

from robocall.flows.engine import Action, Digits, Gather, HangUp, Hangup, Timeout
from robocall.models import CallState
from simulator.network import MAX_EVENTS, SimPhoneNetwork
from simulator.population import make_population, resident_for

PHONES = [f"+8490{n:07d}" for n in range(40)]
SYMPTOM_RULES = {"trieu_chung_nang", "co_trieu_chung"}


def network(*residents, seed: int = 7) -> SimPhoneNetwork:
    return SimPhoneNetwork({r.phone: r for r in residents}, seed, FLOWS)


def call(net: SimPhoneNetwork, phone: str = PERFECT.phone, at: dt.datetime = AFTERNOON,
         flow=FOLLOWUP, exposure_date: dt.date | None = EXPOSED):
    handler = EngineHandler(flow, today=(at + dt.timedelta(hours=7)).date(), exposure_date=exposure_date, phone=phone)
    result = net.run_call(request(phone, at), handler, flow, exposure_date)
    return result, handler


class Instant:
    """A handler that hangs up as soon as the call is answered: for counting line outcomes fast."""

    def __init__(self) -> None:
        self.answered_calls = 0
        self.ended_states: list[CallState] = []

    def answered(self, at: dt.datetime) -> list[Action]:
        self.answered_calls += 1
        return [HangUp("completed")]

    def event(self, event, at: dt.datetime) -> list[Action]:
        raise AssertionError("no events after an immediate hang-up")

    def ended(self, state: CallState, at: dt.datetime) -> None:
        self.ended_states.append(state)


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_phone_and_time_replay_the_same_call() -> None:
    population = make_population(PHONES, seed=3)
    for phone in PHONES:
        first, second = SimPhoneNetwork(population, 11, FLOWS), SimPhoneNetwork(population, 11, FLOWS)
        result_a, handler_a = call(first, phone)
        call(second, PHONES[0])  # other calls in between change nothing
        result_b, handler_b = call(second, phone)
        assert result_a == result_b
        assert handler_a.log == handler_b.log
        assert handler_a.session == handler_b.session


def test_a_different_time_or_seed_can_give_a_different_call() -> None:
    population = make_population(PHONES, seed=3)
    net = SimPhoneNetwork(population, 11, FLOWS)
    times = [AFTERNOON + dt.timedelta(minutes=15 * k) for k in range(8)]
    runs = [call(net, phone, at) for phone in PHONES for at in times]
    outcomes = {(result.state, len(handler.log)) for result, handler in runs}
    assert len(outcomes) > 5
    other = SimPhoneNetwork(population, 12, FLOWS)
    assert [call(net, p)[0] for p in PHONES] != [call(other, p)[0] for p in PHONES]


def test_unknown_numbers_behave_like_a_resident_of_the_default_mix() -> None:
    net = SimPhoneNetwork({}, 5, FLOWS)
    assert net.resident("+84911111111") == resident_for("+84911111111", 5)
    result_a, handler_a = call(net, "+84911111111")
    result_b, handler_b = call(net, "+84911111111")
    assert result_a == result_b and handler_a.log == handler_b.log


# --- line outcomes ----------------------------------------------------------------------------


def test_line_outcomes_follow_the_residents_rates() -> None:
    person = resident(answer_rate=0.6, busy_rate=0.1, fail_rate=0.05, machine_rate=0.5)
    net = network(person)
    handler = Instant()
    n = 4000
    for k in range(n):
        at = AFTERNOON + dt.timedelta(days=k % 60, seconds=k)  # afternoons only: no time-of-day effect
        net.run_call(request(at=at), handler, FOLLOWUP, EXPOSED)
    share = {state: count / n for state, count in Counter(handler.ended_states).items()}
    expected = {
        CallState.FAILED: 0.05, CallState.BUSY: 0.95 * 0.1, CallState.COMPLETED: 0.95 * 0.9 * 0.6,
        CallState.MACHINE: 0.95 * 0.9 * 0.4 * 0.5, CallState.NO_ANSWER: 0.95 * 0.9 * 0.4 * 0.5,
    }
    for state, rate in expected.items():
        assert abs(share.get(state, 0.0) - rate) < 0.03, (state, share)
    assert handler.answered_calls == handler.ended_states.count(CallState.COMPLETED)


def test_time_of_day_changes_who_picks_up() -> None:
    worker = resident(answer_rate=0.6, morning=0.7, evening=1.4)
    net = network(worker)

    def answered_share(utc_hour: int) -> float:
        handler = Instant()
        for k in range(1500):
            at = dt.datetime(2021, 8, 1, utc_hour, tzinfo=dt.UTC) + dt.timedelta(days=k % 30, seconds=k)
            net.run_call(request(at=at), handler, FOLLOWUP, None)
        return handler.answered_calls / 1500

    morning, evening = answered_share(1), answered_share(12)  # 08:00 and 19:00 local
    assert 0.36 < morning < 0.48 and 0.78 < evening < 0.9


def test_most_residents_are_reached_within_two_tries_and_a_few_hardly_ever() -> None:
    phones = [f"+8491{n:07d}" for n in range(1500)]
    net = SimPhoneNetwork(make_population(phones, seed=1), 1, FLOWS)
    handler = Instant()
    reached_in_two = 0
    for phone in phones:
        before = handler.answered_calls
        for attempt in range(2):
            net.run_call(request(phone, AFTERNOON + dt.timedelta(hours=attempt)), handler, FOLLOWUP, EXPOSED)
            if handler.answered_calls > before:
                reached_in_two += 1
                break
    assert 0.8 < reached_in_two / len(phones) < 0.97


def test_busy_and_no_answer_end_the_line_without_answering() -> None:
    for person, state, seconds in [
        (resident(busy_rate=1.0), CallState.BUSY, (1, 8)),
        (resident(answer_rate=0.0, machine_rate=0.0), CallState.NO_ANSWER, (30, 36)),
        (resident(answer_rate=0.0, machine_rate=1.0), CallState.MACHINE, (17, 34)),
        (resident(fail_rate=1.0), CallState.FAILED, (1, 9)),
    ]:
        result, handler = call(network(person))
        assert result.state == state and result.answered_at is None
        assert [entry[0] for entry in handler.log] == ["ended"]
        assert handler.ended_with == (state, result.ended_at)
        assert seconds[0] <= (result.ended_at - result.dialled_at).total_seconds() <= seconds[1]


# --- on the call ------------------------------------------------------------------------------


def test_a_full_answered_call_takes_one_to_three_minutes_of_virtual_time() -> None:
    result, handler = call(network(PERFECT))
    assert result.state == CallState.COMPLETED and handler.session.end_reason == "completed"
    assert 2 <= (result.answered_at - result.dialled_at).total_seconds() <= 32
    assert 60 <= (result.ended_at - result.answered_at).total_seconds() <= 180
    times = [entry[-1] for entry in handler.log]
    assert times == sorted(times) and times[0] == result.answered_at and times[-1] == result.ended_at
    assert handler.ended_with == (CallState.COMPLETED, result.ended_at)
    assert all(isinstance(e, Digits) for e in handler.events)


def test_slow_pressers_take_longer() -> None:
    fast = [call(network(resident(key=k)))[0] for k in range(20)]
    slow = [call(network(resident(key=k, slow_presser=True)))[0] for k in range(20)]
    length = lambda results: sum((r.ended_at - r.answered_at).total_seconds() for r in results)  # noqa: E731
    assert length(slow) > length(fast) + 20 * 15


def test_a_resident_who_hangs_up_mid_call_sends_hangup() -> None:
    result, handler = call(network(resident(hangup_midcall_rate=1.0)))
    assert handler.events == [Hangup()]
    assert handler.session.end_reason == "caller_hangup"
    assert result.state == CallState.COMPLETED and handler.ended_with[0] == CallState.COMPLETED


def test_silence_costs_the_gather_timeout() -> None:
    result, handler = call(network(resident(silence_rate=1.0)))
    assert set(handler.events) == {Timeout()}
    assert handler.session.end_reason == "gave_up"
    gaps = [(b[2] - a[-1]).total_seconds() for a, b in zip(handler.log, handler.log[1:]) if b[0] == "event"]
    assert all(gap >= 6 for gap in gaps)


def test_a_handler_that_never_hangs_up_is_cut_off() -> None:
    class Endless(EngineHandler):
        def answered(self, at):
            super().answered(at)
            return [Gather("sot", max_digits=1, timeout=6)]

        def event(self, event, at):
            self.log.append(("event", event, at))
            return [Gather("sot", max_digits=1, timeout=6)]

    handler = Endless()
    result = network(PERFECT).run_call(request(), handler, FOLLOWUP, EXPOSED)
    assert len(handler.events) == MAX_EVENTS
    assert result.state == CallState.COMPLETED and handler.ended_with == (CallState.COMPLETED, result.ended_at)


# --- truth drives the flow --------------------------------------------------------------------


def test_a_symptomatic_resident_escalates_on_and_after_onset_day() -> None:
    sick = resident(symptom_starts=(("cough", 5), ("fever", 6)), peak_temperature=38.4)
    net = network(sick)
    for day in range(1, 15):
        at = dt.datetime.combine(EXPOSED + dt.timedelta(days=day), dt.time(3, 0), dt.UTC)  # 10:00 local
        result, handler = call(net, at=at)
        assert result.state == CallState.COMPLETED and handler.session.end_reason == "completed"
        fired = set(handler.session.fired)
        assert bool(fired & SYMPTOM_RULES) == (day >= 5), (day, fired)
        assert handler.session.answers["cough"] == (day >= 5)
        if day >= 7:  # the fever has peaked
            assert "trieu_chung_nang" in fired and handler.session.answers["temperature"] >= 38.0


def test_severe_residents_become_urgent_once_short_of_breath() -> None:
    severe = resident(symptom_starts=(("sore_throat", 3), ("shortness_of_breath", 5)))
    fired = {day: set(call(network(severe), at=dt.datetime.combine(
        EXPOSED + dt.timedelta(days=day), dt.time(3, 0), dt.UTC))[1].session.fired) for day in (2, 3, 5)}
    assert fired == {2: set(), 3: {"co_trieu_chung"}, 5: {"trieu_chung_nang"}}


def test_population_residents_drive_the_followup_flow_into_escalations() -> None:
    phones = [f"+8492{n:07d}" for n in range(400)]
    population = make_population(phones, seed=2)
    sick = [r for r in population.values() if r.symptom_onset_day is not None]
    assert sick
    # A truthful, always reachable copy of each sick resident reports symptoms from their onset day on.
    for person in sick:
        honest = dataclasses.replace(person, answer_rate=1.0, morning=1.0, busy_rate=0.0, fail_rate=0.0,
                                     hangup_midcall_rate=0.0, silence_rate=0.0, wrong_key_rate=0.0,
                                     relative_answers_rate=0.0)
        onset = person.symptom_onset_day
        for day in (onset - 1, onset, 14):
            at = dt.datetime.combine(EXPOSED + dt.timedelta(days=day), dt.time(3, 0), dt.UTC)
            result, handler = call(network(honest), phone=person.phone, at=at)
            assert result.state == CallState.COMPLETED
            fired = set(handler.session.fired)
            assert bool(fired & SYMPTOM_RULES) == (day >= onset), (person, day, fired)


def test_the_returnee_flow_hears_the_return_date_and_test_status() -> None:
    returnee = resident(test_day=1, tests_positive=True, symptom_starts=(("fever", 3),), peak_temperature=38.5)
    for day, status, rule in [(0, "not_tested", "chua_xet_nghiem"), (1, "waiting", None),
                              (2, "negative", None), (4, "positive", "xet_nghiem_duong_tinh")]:
        at = dt.datetime.combine(EXPOSED + dt.timedelta(days=day), dt.time(3, 0), dt.UTC)
        _, handler = call(network(returnee), at=at, flow=RETURNEE)
        answers = handler.session.answers
        assert answers["return_date"] == EXPOSED.isoformat() and answers["zone"] == returnee.zone
        assert answers["test_status"] == status
        assert (rule in handler.session.fired) if rule else handler.session.fired in ([], ["co_trieu_chung"])
