"""A caller who answers questions by chance: the simulated resident's keypad behaviour.

Given the question the engine is gathering for, it presses a valid key most of
the time, sometimes a wrong one, sometimes nothing, and now and then hangs up.
All randomness comes from the `random.Random` the host passes in, so a seed
replays the same call.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from robocall.flows.engine import Digits, Event, Gather, Hangup, Timeout
from robocall.flows.loader import Flow
from robocall.flows.schema import KEYPAD, Node


@dataclass(frozen=True)
class CallerHabits:
    silence: float = 0.05  # chance of pressing nothing at a question
    wrong_key: float = 0.05
    hang_up: float = 0.01  # chance of hanging up at each question
    yes: float = 0.2  # chance of answering "yes" (key 1) to a yes/no question


def respond(flow: Flow, gather: Gather, today: dt.date, rng: random.Random,
            habits: CallerHabits = CallerHabits(), truth: Mapping[str, Any] | None = None) -> Event:
    """The event a resident produces for `gather`.

    `truth` holds the answers this resident would give, by answer name
    (`{"fever": True, "temperature": 38.4}`); other questions are answered by chance.
    """
    roll = rng.random()
    if roll < habits.hang_up:
        return Hangup()
    if roll < habits.hang_up + habits.silence:
        return Timeout()
    node = flow.spec.nodes[gather.node]
    if rng.random() < habits.wrong_key:
        return _mistake(node, rng)
    if truth and node.save in truth:
        told = _tell(node, truth[node.save])
        if told is not None:
            return told
    if node.keys is not None:
        valid = sorted(node.keys)
        if set(valid) >= {"1", "2"} and node.keys["1"].value is True:
            return Digits("1" if rng.random() < habits.yes else "2")
        return Digits(rng.choice(valid))
    if node.number is not None:
        spec = node.number
        low = spec.min if spec.min is not None else 0
        high = spec.max if spec.max is not None else 10 ** spec.max_digits - 1
        value = rng.uniform(low, min(high, low + (high - low) * 0.5))
        typed = str(round(value * 10**spec.decimals)).zfill(spec.min_digits)
        return Digits(typed + "#")
    assert node.date is not None
    day = today - dt.timedelta(days=rng.randint(0, max(0, node.date.max_days_ago)))
    return Digits(day.strftime("%d%m") + "#")


def _mistake(node: Node, rng: random.Random) -> Event:
    """A slip of the finger: a key that is not a choice, or digits that make no temperature or date."""
    if node.keys is not None:
        wrong = sorted(KEYPAD - set(node.keys))
        return Digits(rng.choice(wrong)) if wrong else Timeout()
    return Digits(rng.choice(["9#", "*", "99999#", "0#"]))


def _tell(node: Node, value: Any) -> Digits | None:
    """The keys that give `value` as the answer to `node`, if the node can take it."""
    if node.keys is not None:
        for key, choice in sorted(node.keys.items()):
            if choice.value == value and type(choice.value) is type(value):
                return Digits(key)
        return None
    if node.number is not None and isinstance(value, (int, float)):
        return Digits(str(round(value * 10**node.number.decimals)) + "#")
    if node.date is not None and isinstance(value, dt.date):
        return Digits(value.strftime("%d%m") + "#")
    return None
