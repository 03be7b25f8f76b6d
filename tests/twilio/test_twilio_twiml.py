"""TwiML from the cached templates is byte for byte what twilio.twiml.voice_response builds, for every shape."""

from __future__ import annotations

import itertools
import random

from robocall.conversations.resumable import Turn
from robocall.flows.engine import Action, Gather, HangUp, Say
from robocall.telephony.twilio import twiml

TEXTS = ["Xin chào {name}, đây là CDC.", " có khoảng trắng ", "a & b < c > d \"q\" 'x'", "tab\tnew\nline\rcr",
         "&amp; đã thoát", "x"]
URLS = ["https://cdc.example.vn/twilio/voice/7/gather/2?flow=f1&node=q1", "http://h:8080/a?b=\"c\"&d=<e>\t\n\r"]
GATHERS = [None, Gather("q", 1, 5), Gather("q", 1, 7, "#"), Gather("q", 8, 10, "#"), Gather("q", 10, 5, "#")]


def _says(rng: random.Random, count: int) -> list[Say]:
    return [Say(rng.choice(TEXTS + ["  "]), rng.choice(["vi", "en", "fr"]), None,
                rng.choice(["prompt", "no_input", "invalid"])) for _ in range(count)]


def test_every_shape_renders_as_the_library_builds_it() -> None:
    rng = random.Random(7)
    shapes = 0
    for gather, count, hangup, ended, _repeat in itertools.product(GATHERS, range(4), [False, True], [False, True],
                                                                  range(6)):
        says = _says(rng, count)
        actions: list[Action] = [*says[: count // 2], *([gather] if gather else []), *says[count // 2:],
                                 *([HangUp("completed")] if hangup else [])]
        turn = Turn(actions, 3, "f1_f2_followup", "q1", ended)
        played = {id(say): rng.choice([None, rng.choice(URLS)]) for say in says}

        def audio(say: Say, node: str | None, played: dict[int, str | None] = played) -> str | None:
            return played[id(say)]

        gather_url, silence_url = rng.choice(URLS), rng.choice(URLS) + "&silence"
        assert twiml.render(turn, gather_url, silence_url, audio) == twiml.build(turn, gather_url, silence_url, audio)
        shapes += 1
    assert shapes == 480
    assert len(twiml._TEMPLATES) > 50  # many shapes, each rendered from its template again later


def test_over_is_a_hang_up() -> None:
    document = twiml.render(Turn.over(), "", "", lambda say, node: None)
    assert document == twiml.build(Turn.over(), "", "", lambda say, node: None)
    assert document.endswith("<Response><Hangup /></Response>")
