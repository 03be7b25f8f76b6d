"""Simulated residents: how each person picks up the phone, presses keys and feels day by day.

A `Resident` is plain frozen data.  Its health story (which symptoms, from
which follow-up day, how high the fever) is fixed when the resident is made,
so every call on the same day hears the same answers; only per-call chance
(who picks up the phone) comes from the caller's `random.Random`.

`resident_for(phone, seed, profile)` draws one resident from a profile's mix, seeded
by the phone number alone, so a number behaves the same whatever list it is
in; `make_population` is that, for a list of numbers.

Two profiles: `province`, the default, calibrated on what a province saw in 2021 (287
escalations to the CDC from about 58,000 automated calls and 8,100 hotline calls: a few
percent of people symptomatic, most reached on the first or second try, most hotline
callers declaring their health); `outbreak`, a stress mix where a tenth fall ill and many
need help, for load and for the dashboard under a flood.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, get_args

from robocall.config import SimProfile as Profile
from simulator.keypad import CallerHabits

SYMPTOMS = ("fever", "cough", "sore_throat", "loss_of_taste_smell")
ZONES = ("ha_noi", "ho_chi_minh", "binh_duong", "dong_nai", "other")  # the returnee_check keys
# Why someone rings the hotline: the values of the hotline menu's `menu_choice`.
HOTLINE_REASONS = ("health", "guidance", "callback", "report")
PROFILES: tuple[Profile, ...] = get_args(Profile)


@dataclass(frozen=True)
class Mix:
    """The rates a profile draws residents from (ranges are uniform draws per resident)."""

    unreachable: float
    answer_rate: tuple[float, float]
    symptomatic: float
    needs_help_rate: tuple[float, float]
    away_rate: tuple[float, float]  # per day, not at the quarantine address
    often_away: float  # share of residents who are often away (10-30 % of days)
    wrong_records: float  # share whose "returned from a zone" is wrong on the list
    refuses_quarantine: float
    never_tested: float
    # Weights of HOTLINE_REASONS; None: the caller presses the menu's keys by chance.
    hotline_reasons: tuple[int, int, int, int] | None


MIXES: dict[Profile, Mix] = {
    "province": Mix(unreachable=0.03, answer_rate=(0.65, 0.95), symptomatic=0.03,
                    needs_help_rate=(0.0005, 0.003), away_rate=(0.0, 0.003), often_away=0.01, wrong_records=0.01,
                    refuses_quarantine=0.02, never_tested=0.08, hotline_reasons=(72, 15, 8, 5)),
    "outbreak": Mix(unreachable=0.05, answer_rate=(0.55, 0.92), symptomatic=0.10,
                    needs_help_rate=(0.005, 0.04), away_rate=(0.0, 0.02), often_away=0.03, wrong_records=0.03,
                    refuses_quarantine=0.06, never_tested=0.15, hotline_reasons=None),
}


@dataclass(frozen=True)
class Resident:
    phone: str  # E.164
    key: int  # the resident's own seed: day-by-day variation replays from it
    # --- picking up -------------------------------------------------------------------------
    answer_rate: float = 0.75  # chance of picking up a ringing phone in the afternoon, when free
    morning: float = 1.0  # multipliers on answer_rate by local time of day
    midday: float = 0.85  # lunch and nap time
    evening: float = 1.1
    busy_rate: float = 0.05  # chance the line is busy at a dial
    machine_rate: float = 0.2  # share of unanswered calls that voicemail picks up
    fail_rate: float = 0.02  # network failures (out of coverage, phone off)
    unreachable: bool = False  # chronically hard to reach: answer_rate is tiny
    # --- on the call --------------------------------------------------------------------------
    hangup_midcall_rate: float = 0.005  # chance of hanging up at each question
    silence_rate: float = 0.04  # chance of pressing nothing at a question
    wrong_key_rate: float = 0.03
    slow_presser: bool = False  # takes longer to find the keys (elderly, unfamiliar phone)
    relative_answers_rate: float = 0.05  # someone else picks up -> right_person is False
    # --- health story (days are follow-up days: days since exposure or return) ----------------
    symptom_starts: tuple[tuple[str, int], ...] = ()  # (answer name, first day), e.g. (("fever", 4),)
    peak_temperature: float = 36.8  # reached two days after fever starts
    baseline_temperature: float = 36.6
    tests_positive: bool = False  # once symptomatic, a test comes back positive
    test_day: int | None = 2  # day of the first test (returnees); None: never tested
    # --- other answers --------------------------------------------------------------------------
    needs_help_rate: float = 0.02  # per day (tripled once symptomatic)
    away_rate: float = 0.02  # per day: not at the quarantine address
    returned_from_zone: bool = True  # False: the records are wrong
    zone: str = "ho_chi_minh"
    commits_to_quarantine: bool = True
    # --- ringing the hotline ------------------------------------------------------------------
    hotline_reason: str = ""  # a HOTLINE_REASONS value; "": presses the menu's keys by chance
    report_kind: str = "suspected_case"  # what a caller with something to report reports

    @property
    def symptom_onset_day(self) -> int | None:
        return min((day for _, day in self.symptom_starts), default=None)

    @property
    def severe(self) -> bool:
        return any(name == "shortness_of_breath" for name, _ in self.symptom_starts)

    def habits(self) -> CallerHabits:
        return CallerHabits(silence=self.silence_rate, wrong_key=self.wrong_key_rate,
                            hang_up=self.hangup_midcall_rate)

    def answer_probability(self, local_time: dt.time) -> float:
        """Chance of picking up when the phone rings at `local_time` and the line is free."""
        minutes = local_time.hour * 60 + local_time.minute
        if minutes < 7 * 60 or minutes >= 21 * 60:
            factor = 0.3  # asleep or phone on silent
        elif minutes < 11 * 60:
            factor = self.morning
        elif minutes < 13 * 60 + 30:
            factor = self.midday
        elif minutes < 17 * 60:
            factor = 1.0
        else:
            factor = self.evening
        return min(1.0, self.answer_rate * factor)

    def has(self, symptom: str, day_index: int) -> bool:
        """Whether `symptom` has started by follow-up day `day_index` (symptoms last the whole follow-up)."""
        return any(name == symptom and day_index >= start for name, start in self.symptom_starts)

    def truth(self, day_index: int, rng: random.Random,
              exposure_date: dt.date | None = None) -> dict[str, Any]:
        """The answers this resident gives on follow-up day `day_index`, by answer name.

        Health and whereabouts depend only on (resident, day); `rng` decides who picked
        up the phone on this call.  `exposure_date` gives the returnee's `return_date`.
        """
        daily = random.Random(f"{self.key}|day|{day_index}")
        symptomatic = self.symptom_onset_day is not None and day_index >= self.symptom_onset_day
        answers: dict[str, Any] = {
            "right_person": rng.random() >= self.relative_answers_rate,
            "temperature": self._temperature(day_index, daily),
            "at_quarantine_address": daily.random() >= self.away_rate,
            "needs_help": daily.random() < self.needs_help_rate * (3 if symptomatic else 1),
            "shortness_of_breath": self.has("shortness_of_breath", day_index),
            # returnee_check
            "returned_from_zone": self.returned_from_zone,
            "zone": self.zone,
            "quarantine_commitment": self.commits_to_quarantine,
            "test_status": self._test_status(day_index),
        }
        for symptom in SYMPTOMS:
            answers[symptom] = self.has(symptom, day_index)
        if exposure_date is not None:
            answers["return_date"] = exposure_date
        if self.hotline_reason:
            answers["menu_choice"] = self.hotline_reason
            answers["report_kind"] = self.report_kind
        return answers

    def _temperature(self, day_index: int, daily: random.Random) -> float:
        normal = self.baseline_temperature + daily.gauss(0, 0.15)
        fever_from = next((day for name, day in self.symptom_starts if name == "fever"), None)
        if fever_from is None or day_index < fever_from:
            return round(min(37.2, max(36.0, normal)), 1)
        ramp = min(1.0, (day_index - fever_from + 1) / 2)  # half way on the first day, peak on the second
        value = normal + (self.peak_temperature - self.baseline_temperature) * ramp + daily.gauss(0, 0.2)
        return round(min(40.5, max(37.5, value)), 1)

    def _test_status(self, day_index: int) -> str:
        onset = self.symptom_onset_day
        if self.tests_positive and onset is not None and day_index > onset:
            return "positive"  # retested when symptoms came; the result is back the next day
        if self.test_day is None or day_index < self.test_day:
            return "not_tested"
        return "waiting" if day_index == self.test_day else "negative"


def resident_for(phone: str, seed: int, profile: Profile = "province") -> Resident:
    """One resident from the profile's mix, fixed by (seed, phone, profile).

    Both mixes: a few percent chronically hard to reach, the rest answer most rings, so most are
    reached within a couple of tries; of those who fall ill, a fifth are severe.
    """
    mix = MIXES[profile]
    rng = random.Random(f"resident|{seed}|{phone}")
    key = rng.getrandbits(63)
    unreachable = rng.random() < mix.unreachable
    kind = rng.choices(["worker", "home", "elderly"], weights=[35, 45, 20])[0]
    morning, midday, evening = {
        "worker": (0.8, 1.05, 1.25),  # busy at work, free at lunch and after work
        "home": (1.05, 0.85, 1.0),
        "elderly": (1.15, 0.7, 0.85),  # up early, naps after lunch
    }[kind]
    symptom_starts: tuple[tuple[str, int], ...] = ()
    peak = 36.8
    tests_positive = False
    if rng.random() < mix.symptomatic:
        symptom_starts, peak = _symptom_story(rng, severe=rng.random() < 0.2)
        tests_positive = rng.random() < 0.7
    hotline_reason = ""
    if mix.hotline_reasons is not None:
        hotline_reason = rng.choices(HOTLINE_REASONS, weights=mix.hotline_reasons)[0]
    return Resident(
        phone=phone, key=key,
        answer_rate=rng.uniform(0.02, 0.08) if unreachable else rng.uniform(*mix.answer_rate),
        morning=morning, midday=midday, evening=evening,
        busy_rate=rng.uniform(0.05, 0.2) if unreachable else rng.uniform(0.02, 0.08),
        machine_rate=rng.uniform(0.3, 0.7) if unreachable else rng.uniform(0.05, 0.3),
        fail_rate=rng.uniform(0.1, 0.3) if unreachable else rng.uniform(0.005, 0.03),
        unreachable=unreachable,
        hangup_midcall_rate=rng.uniform(0.001, 0.012),
        silence_rate=rng.uniform(0.01, 0.08),
        wrong_key_rate=rng.uniform(0.02, 0.1) if kind == "elderly" else rng.uniform(0.005, 0.04),
        slow_presser=rng.random() < (0.7 if kind == "elderly" else 0.08),
        relative_answers_rate=rng.uniform(0.1, 0.25) if kind == "elderly" else rng.uniform(0.01, 0.06),
        symptom_starts=symptom_starts, peak_temperature=peak,
        baseline_temperature=round(rng.uniform(36.3, 36.9), 1),
        tests_positive=tests_positive,
        test_day=None if rng.random() < mix.never_tested else rng.randint(0, 4),
        needs_help_rate=rng.uniform(*mix.needs_help_rate),
        away_rate=rng.uniform(0.1, 0.3) if rng.random() < mix.often_away else rng.uniform(*mix.away_rate),
        returned_from_zone=rng.random() >= mix.wrong_records,
        zone=rng.choices(ZONES, weights=[15, 40, 20, 10, 15])[0],
        commits_to_quarantine=rng.random() >= mix.refuses_quarantine,
        hotline_reason=hotline_reason,
        report_kind=rng.choice(("suspected_case", "arrival_from_zone")),
    )


def _symptom_story(rng: random.Random, severe: bool) -> tuple[tuple[tuple[str, int], ...], float]:
    """Which symptoms start on which day, and the fever's peak."""
    onset = rng.randint(2, 10)
    chance = {"fever": 0.7, "cough": 0.6, "sore_throat": 0.45, "loss_of_taste_smell": 0.35}
    chosen = [s for s in SYMPTOMS if (severe and s in ("fever", "cough")) or rng.random() < chance[s]]
    if not chosen:
        chosen = [rng.choice(SYMPTOMS)]
    rng.shuffle(chosen)
    # The first symptom starts on the onset day, the others over the next two days.
    starts = [(chosen[0], onset)] + [(s, onset + rng.randint(0, 2)) for s in chosen[1:]]
    if severe:
        starts.append(("shortness_of_breath", onset + rng.randint(1, 3)))
    peak = round(rng.uniform(38.6, 39.5) if severe else rng.uniform(37.8, 38.6), 1)
    return tuple(sorted(starts, key=lambda item: (item[1], item[0]))), peak


def make_population(phones: list[str], seed: int, profile: Profile = "province") -> dict[str, Resident]:
    return {phone: resident_for(phone, seed, profile) for phone in phones}
