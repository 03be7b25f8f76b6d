"""Answering-machine detection in the outbound context: a person's short "a lô" vs a voicemail greeting."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.models import CallState
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from tests.asterisk.calls import add_attempts, check_flow, outcomes, run_calls
from tests.asterisk.residents import residents_conf


def speech(path: Path, text: str, silence_after: float) -> str:
    """A WAV of `text` then real silence (frames AMD can measure); returns its name for Playback()."""
    spoken = subprocess.run(["espeak-ng", "-v", "vi", "-s", "170", "--stdout", text], capture_output=True,
                            check=True).stdout
    subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", str(path), "pad", "0",
                    str(silence_after)], input=spoken, check=True, capture_output=True)
    return str(path.with_suffix(""))


def test_a_person_gets_the_flow_and_a_voicemail_greeting_is_recorded_as_a_machine(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int, short_tmp: Path,
        prompts: RenderedPrompts) -> None:
    hello = speech(short_tmp / "alo.wav", "A lô", 2.0)
    greeting = speech(short_tmp / "voicemail.wav",
                      "Xin chào, quý khách đã gọi đến hộp thư thoại của số máy này. Xin vui lòng để lại lời nhắn "
                      "sau tiếng bíp, chúng tôi sẽ gọi lại cho quý khách sớm nhất có thể.", 1.0)
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        "0912000011": ["Answer()", f"Playback({hello})", "SendDTMF(2)", "Wait(10)"],
        "0912000012": ["Answer()", f"Playback({greeting})", "Wait(5)"],
    })})
    flow = check_flow()
    ids = add_attempts(migrated, ["+84912000011", "+84912000012"], flow.name, dt.date.today())

    run_calls(asterisk, migrated, {flow.name: flow}, ids, agi_port, prompts, amd=True)

    found = outcomes(migrated, ids)
    assert found["+84912000011"]["state"] == CallState.COMPLETED
    assert found["+84912000011"]["answers"] == {"fever": False}
    assert found["+84912000012"]["state"] == CallState.MACHINE
    assert found["+84912000012"]["answered"] is False and found["+84912000012"]["answers"] == {}
