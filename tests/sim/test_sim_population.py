"""Simulated residents: the default mix, and answers that depend only on (resident, day)."""

from __future__ import annotations

import datetime as dt
import random

from simhelp import FOLLOWUP, RETURNEE

from simulator.population import SYMPTOMS, Resident, make_population, resident_for

PHONES = [f"+8493{n:07d}" for n in range(5000)]
HEALTH = ["fever", "cough", "sore_throat", "loss_of_taste_smell", "shortness_of_breath", "temperature",
          "at_quarantine_address", "needs_help", "test_status"]


def test_the_default_mix_is_a_province_in_2021() -> None:
    people = list(make_population(PHONES, seed=9).values())
    share = lambda test: sum(1 for p in people if test(p)) / len(people)  # noqa: E731
    assert 0.02 < share(lambda p: p.unreachable) < 0.04
    assert 0.02 < share(lambda p: p.symptom_onset_day is not None) < 0.04
    assert 0.002 < share(lambda p: p.severe) < 0.012
    assert 0.65 < share(lambda p: p.hotline_reason == "health") < 0.8  # most hotline callers declare
    assert 0.05 < share(lambda p: p.hotline_reason == "callback") < 0.11
    assert all(2 <= p.symptom_onset_day <= 10 for p in people if p.symptom_onset_day is not None)
    assert all(p.answer_rate < 0.1 for p in people if p.unreachable)
    assert 0.1 < share(lambda p: p.slow_presser) < 0.3


def test_the_outbreak_mix_is_a_flood() -> None:
    people = list(make_population(PHONES, seed=9, profile="outbreak").values())
    share = lambda test: sum(1 for p in people if test(p)) / len(people)  # noqa: E731
    assert 0.035 < share(lambda p: p.unreachable) < 0.065
    assert 0.08 < share(lambda p: p.symptom_onset_day is not None) < 0.12
    assert 0.01 < share(lambda p: p.severe) < 0.03
    assert all(p.hotline_reason == "" for p in people)  # they press the menu's keys by chance


def test_a_hotline_caller_presses_the_key_of_their_reason() -> None:
    caller = resident_for(PHONES[0], 1)
    assert caller.truth(0, random.Random(0))["menu_choice"] == caller.hotline_reason


def test_a_number_is_the_same_resident_in_any_list() -> None:
    assert make_population(PHONES[:10], seed=4)[PHONES[3]] == resident_for(PHONES[3], 4)
    assert resident_for(PHONES[3], 4) != resident_for(PHONES[3], 5)


def test_truth_names_every_answer_the_outbound_flows_ask() -> None:
    person = resident_for(PHONES[0], 1)
    truth = person.truth(3, random.Random(0), exposure_date=dt.date(2021, 8, 10))
    assert (FOLLOWUP.answers | RETURNEE.answers) <= set(truth)
    assert isinstance(truth["temperature"], float) and 36.0 <= truth["temperature"] <= 40.5


def test_health_is_fixed_per_resident_and_day() -> None:
    for person in list(make_population(PHONES[:300], seed=2).values()):
        for day in range(15):
            a = person.truth(day, random.Random(1))
            b = person.truth(day, random.Random(2))  # another call the same day
            assert {k: a[k] for k in HEALTH} == {k: b[k] for k in HEALTH}
            assert a == person.truth(day, random.Random(1))


def test_fever_rises_to_its_peak_and_symptoms_last() -> None:
    person = Resident(phone="+84900000009", key=3, symptom_starts=(("fever", 4), ("cough", 5)),
                      peak_temperature=39.0, baseline_temperature=36.6)
    temps = [person.truth(day, random.Random(0))["temperature"] for day in range(12)]
    assert all(t <= 37.2 for t in temps[:4])
    assert 37.5 <= temps[4] and all(t >= 38.0 for t in temps[5:])
    assert [person.truth(d, random.Random(0))["cough"] for d in (4, 5, 11)] == [False, True, True]
    assert set(SYMPTOMS) <= set(person.truth(0, random.Random(0)))


def test_sometimes_a_relative_picks_up() -> None:
    person = Resident(phone="+84900000010", key=4, relative_answers_rate=0.2)
    rng = random.Random(5)
    share = sum(not person.truth(1, rng)["right_person"] for _ in range(2000)) / 2000
    assert 0.16 < share < 0.24
