"""Whole calls through the real Asterisk: residents played by dialplan, outcomes and answers read back
from the database that RecordingCallHandler wrote."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.conversations.calls import RecordedCalls
from robocall.flows.loader import load_flow
from robocall.models import CallState
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import MISSING_PROMPTS, RenderedPrompts
from robocall.telephony.base import CallRequest
from simulator.asterisk_world import AsteriskWorld
from simulator.scripts import CallScript, Step
from tests.asterisk.calls import VN_TZ, add_attempts, check_flow, outcomes, run_calls
from tests.asterisk.conftest import ROOT, asterisk_prefix
from tests.asterisk.residents import BUSY, CONGESTION, NO_ANSWER, residents_conf

# national number -> (what the resident does, what the database must say)
BEHAVIOURS: dict[str, tuple[list[str], dict[str, object]]] = {
    # presses 1 during the greeting (before the question is asked), then 385# during the number prompt
    "0912000001": (["Answer()", "Wait(0.3)", "SendDTMF(1)", "Wait(1.2)", "SendDTMF(385#)", "Wait(15)"],
                   {"state": CallState.COMPLETED, "reason": "completed",
                    "answers": {"fever": True, "temperature": 38.5}, "escalations": ["sot_cao"]}),
    # answers 2 while the question plays
    "0912000002": (["Answer()", "Wait(1.6)", "SendDTMF(2)", "Wait(15)"],
                   {"state": CallState.COMPLETED, "reason": "completed", "answers": {"fever": False},
                    "escalations": []}),
    # says nothing: asked again once, then the flow gives up
    "0912000003": (["Answer()", "Wait(30)"],
                   {"state": CallState.COMPLETED, "reason": "gave_up", "answers": {}, "escalations": []}),
    # a wrong key first, then 2
    "0912000004": (["Answer()", "Wait(1.6)", "SendDTMF(7)", "Wait(2.0)", "SendDTMF(2)", "Wait(15)"],
                   {"state": CallState.COMPLETED, "reason": "completed", "answers": {"fever": False},
                    "escalations": []}),
    # hangs up during the greeting
    "0912000005": (["Answer()", "Wait(0.4)"],
                   {"state": CallState.COMPLETED, "reason": "caller_hangup", "answers": {}, "escalations": []}),
    # answers 1, types one digit of the temperature and hangs up
    "0912000006": (["Answer()", "Wait(0.3)", "SendDTMF(1)", "Wait(1.5)", "SendDTMF(3)", "Wait(0.3)"],
                   {"state": CallState.COMPLETED, "reason": "caller_hangup", "answers": {"fever": True},
                    "escalations": []}),
    "0912000007": (BUSY, {"state": CallState.BUSY, "reason": "", "answers": {}, "escalations": []}),
    "0912000008": (NO_ANSWER, {"state": CallState.NO_ANSWER, "reason": "", "answers": {}, "escalations": []}),
    "0912000009": (CONGESTION, {"state": CallState.FAILED, "reason": "", "answers": {}, "escalations": []}),
}


def e164(national: str) -> str:
    return "+84" + national[1:]


def test_a_call_per_behaviour_is_recorded_as_the_resident_acted(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf(
        {number: script for number, (script, _) in BEHAVIOURS.items()})})
    flow = check_flow()
    ids = add_attempts(migrated, [e164(n) for n in BEHAVIOURS], flow.name, dt.date.today())
    missing_before = sum(MISSING_PROMPTS.values())

    run_calls(asterisk, migrated, {flow.name: flow}, ids, agi_port, prompts)

    found = outcomes(migrated, ids)
    for number, (_, expected) in BEHAVIOURS.items():
        got = {k: found[e164(number)][k] for k in expected}
        assert got == expected, f"resident {number}"
    assert sum(MISSING_PROMPTS.values()) == missing_before, "every prompt was played"
    answered = {p for p, o in found.items() if o["answered"]}
    assert answered == {e164(n) for n in list(BEHAVIOURS)[:6]}


def test_a_prompt_missing_on_asterisk_is_counted_and_the_question_still_asked(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int,
        prompts: RenderedPrompts) -> None:
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf(
        {"0912000002": ["Answer()", "Wait(1)", "SendDTMF(2)", "Wait(5)"]})})
    flow = check_flow()
    ids = add_attempts(migrated, ["+84912000002"], flow.name, dt.date.today())
    before = sum(MISSING_PROMPTS.values())

    elsewhere = RenderedPrompts(prompts.renderer, prompts.flows, "/nonexistent")  # Asterisk has no such files
    run_calls(asterisk, migrated, {flow.name: flow}, ids, agi_port, elsewhere)

    assert outcomes(migrated, ids)["+84912000002"]["answers"] == {"fever": False}
    assert sum(MISSING_PROMPTS.values()) - before >= 3  # greeting, question, thanks


NUMBER_THEN_QUESTION = """
name: number_then_question
title: Nhiệt độ rồi câu hỏi
direction: outbound
languages: [vi]
start: nhiet_do
defaults:
  timeout: 3
  retries: 0
  give_up: tam_biet
  no_input: {vi: Chưa nhận được phím.}
  invalid: {vi: Phím không đúng.}
nodes:
  nhiet_do:
    say: {vi: Nhập nhiệt độ ba chữ số rồi bấm thăng.}
    number: {min_digits: 3, max_digits: 3, decimals: 1, min: 34.0, max: 43.0}
    save: temperature
    label: {vi: Nhiệt độ, en: Temperature}
    next: sot
  sot:
    say: {vi: "Sốt bấm 1, không sốt bấm 2."}
    keys: {1: yes, 2: no}
    save: fever
    label: {vi: Sốt, en: Fever}
    next: cam_on
  cam_on:
    say: {vi: Cảm ơn.}
    hangup: true
  tam_biet:
    say: {vi: Tạm biệt.}
    hangup: true
"""


def test_the_hash_after_a_full_temperature_does_not_answer_the_next_question(migrated: Engine, tmp_path: Path) -> None:
    # GET DATA returns at the third digit; the # the prompt asks for comes after it and, unless read
    # there, ends the next question's GET DATA with nothing (no retries here: that would give up).
    asterisk_prefix()
    (tmp_path / "number_then_question.yaml").write_text(NUMBER_THEN_QUESTION, encoding="utf-8")
    flow = load_flow(tmp_path / "number_then_question.yaml")
    ids = add_attempts(migrated, ["+84912000021", "+84912000022"], flow.name, dt.date.today())
    scripts = {"+84912000021": [CallScript(CallState.ANSWERED, 0, (Step("385#", "385"), Step("1", "1")))],
               "+84912000022": [CallScript(CallState.ANSWERED, 0, (Step("372", "372"), Step("2", "2")))]}
    handlers = RecordedCalls(migrated, {flow.name: flow}, VN_TZ)
    with AsteriskWorld(ROOT, migrated, {flow.name: flow}, handlers, scripts, ring_timeout=10, amd=False) as backend:
        for phone, attempt_id in ids.items():
            backend.place_call(CallRequest(attempt_id, phone, "02343822000", dt.datetime.now(dt.UTC), flow.name))
        deadline = time.monotonic() + 90
        while not all(o["state"] != CallState.DIALLING and o["reason"] for o in outcomes(migrated, ids).values()):
            assert time.monotonic() < deadline, outcomes(migrated, ids)
            time.sleep(0.3)

    found = outcomes(migrated, ids)
    assert found["+84912000021"]["answers"] == {"temperature": 38.5, "fever": True}
    assert found["+84912000021"]["reason"] == "completed"
    assert found["+84912000022"]["answers"] == {"temperature": 37.2, "fever": False}  # no # pressed: taken too
