"""A flow's voicemail on the real Asterisk: AMD says MACHINE during a resident's voicemail greeting, the
message is played once the greeting has ended, and the attempt is recorded as `machine` with a note.
The resident's box records what it heard, so the test hears the message too."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from robocall.audio.build import build
from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.flows.loader import parse_flow
from robocall.models import CallState
from robocall.telephony.asterisk.agi_app import VOICEMAIL_LEFT
from robocall.telephony.asterisk.instance import AsteriskProcess
from robocall.telephony.asterisk.prompts import RenderedPrompts
from tests.asterisk.calls import FLOW_FILE, add_attempts, outcomes, run_calls
from tests.asterisk.conftest import audio_settings
from tests.asterisk.residents import residents_conf
from tests.asterisk.test_amd import speech

MESSAGE = "CDC gọi hỏi thăm, sẽ gọi lại."


def rms(path: Path) -> float:
    """The RMS amplitude of a recording (sox `stat`): near 0 for silence."""
    done = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if x.startswith("RMS     amplitude"))
    return float(line.split(":")[1])


def test_a_machine_gets_the_flows_voicemail_after_its_greeting_and_the_attempt_says_so(
        asterisk_factory: Callable[..., AsteriskProcess], migrated: Engine, agi_port: int, short_tmp: Path,
        audio_dir: Path) -> None:
    text = FLOW_FILE.read_text(encoding="utf-8").replace("name: asterisk_check", "name: asterisk_voicemail")
    flow = parse_flow(f"{text}\nvoicemail:\n  vi: {MESSAGE}\n", "asterisk_voicemail.yaml")
    renderer = Renderer(audio_settings(audio_dir))
    assert not build(renderer, prompts_of(flow), ["asterisk"]).failures
    prompts = RenderedPrompts(renderer, {flow.name: flow})
    greeting = speech(short_tmp / "box.wav", "Đây là hộp thư thoại, xin để lại lời nhắn.", 0.3)
    heard = short_tmp / "heard.wav"
    asterisk = asterisk_factory({"extensions_residents.conf": residents_conf({
        # the box: its greeting, then it records until the caller hangs up ('k' keeps it)
        "0912000061": ["Answer()", f"Playback({greeting})", f"Record({heard},0,20,qk)"],
    })})
    ids = add_attempts(migrated, ["+84912000061"], flow.name, dt.date.today())

    run_calls(asterisk, migrated, {flow.name: flow}, ids, agi_port, prompts, amd=True, flow=flow.name)

    found = outcomes(migrated, ids)["+84912000061"]
    assert (found["state"], found["reason"], found["answered"]) == (CallState.MACHINE, VOICEMAIL_LEFT, False)
    assert found["answers"] == {}
    assert heard.is_file() and heard.stat().st_size > 8000  # half a second of the message, at least
    assert rms(heard) > 0.01  # the message, not silence
