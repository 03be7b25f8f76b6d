"""Fifty-four calls at once through one real Asterisk: every call's state, answers and escalations in the
database equal what its resident's script says."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import MISSING_PROMPTS, RenderedPrompts
from tests.asterisk.calls import add_attempts, check_flow, outcomes, run_calls
from tests.asterisk.residents import residents_conf
from tests.asterisk.test_calls import BEHAVIOURS

COPIES = 6


def test_a_campaign_of_54_contacts_is_recorded_exactly(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int, short_tmp: Path,
        prompts: RenderedPrompts) -> None:
    residents: dict[str, tuple[list[str], dict[str, object]]] = {}
    for copy in range(COPIES):
        for i, (script, expected) in enumerate(BEHAVIOURS.values()):
            residents[f"09121{copy:02d}{i:03d}"] = (script, expected)
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf(
        {number: script for number, (script, _) in residents.items()})})
    flow = check_flow()
    phones = {"+84" + number[1:]: number for number in residents}
    ids = add_attempts(migrated, list(phones), flow.name, dt.date.today())
    missing_before = sum(MISSING_PROMPTS.values())

    run_calls(asterisk, migrated, {flow.name: flow}, ids, agi_port, prompts, deadline=150)

    found = outcomes(migrated, ids)
    wrong = {}
    for phone, number in phones.items():
        expected = residents[number][1]
        got = {k: found[phone][k] for k in expected}
        if got != expected:
            wrong[number] = (got, expected)
    assert not wrong, wrong
    assert len(found) == 54
    assert Counter(str(o["state"]) for o in found.values()) == {
        "completed": 6 * COPIES, "busy": COPIES, "no_answer": COPIES, "failed": COPIES}
    assert sum(MISSING_PROMPTS.values()) == missing_before
