"""A flow's voicemail on Twilio: the call is placed with DetectMessageEnd, and when the local peer says
AnsweredBy=machine_end_beep the call gets TwiML that plays the message and hangs up; the attempt is a
`machine` with a note (still retried by the ladder)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from voicehelp import VoiceWorld

from robocall.config import reset_settings
from robocall.conversations.recording import VOICEMAIL_LEFT
from robocall.models import CallState
from simulator.population import Resident

ROOT = Path(__file__).parents[2]
MESSAGE = "Trung tâm kiểm soát bệnh tật gọi hỏi thăm sức khỏe. Chúng tôi sẽ gọi lại sau."
MACHINE = Resident(
    phone="+84900000001", key=1, answer_rate=0.0, morning=0.0, midday=0.0, evening=0.0,
    busy_rate=0.0, machine_rate=1.0, fail_rate=0.0, hangup_midcall_rate=0.0, silence_rate=0.0,
    wrong_key_rate=0.0, relative_answers_rate=0.0, needs_help_rate=0.0, away_rate=0.0,
)


@pytest.fixture
def voicemail_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project's flows, f1_f2_followup with a voicemail (requested before `voice`, which loads them)."""
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "ivr_flows", flows)
    followup = flows / "f1_f2_followup.yaml"
    followup.write_text(followup.read_text(encoding="utf-8") + f"\nvoicemail:\n  vi: {MESSAGE}\n  en: CDC called.\n",
                        encoding="utf-8")
    monkeypatch.setenv("FLOWS_DIR", str(flows))
    reset_settings()
    yield flows


def test_a_machine_gets_the_flows_voicemail_then_a_hang_up(voicemail_flows: Path, voice: VoiceWorld) -> None:
    phone = "+84911000201"
    voice.peer.network.population = {phone: dataclasses.replace(MACHINE, phone=phone)}
    voice.contact(phone)
    # Even with TWILIO_MACHINE_DETECTION=Enable, a flow with a voicemail waits for the end of the greeting.
    voice.backend.settings = voice.settings.model_copy(update={"twilio_machine_detection": "Enable"})
    attempt_id = voice.call(phone)
    attempt = voice.attempt_row(attempt_id)
    assert (attempt.state, attempt.end_reason, attempt.answered_at) == (CallState.MACHINE, VOICEMAIL_LEFT, None)
    created = voice.peer.created[-1]
    assert created["params"]["MachineDetection"] == "DetectMessageEnd"
    played = ET.fromstring(voice.peer.twiml_updates[created["sid"]])
    assert [child.tag for child in played] == ["Say", "Hangup"]  # no audio built here: Twilio speaks it
    assert played[0].text == MESSAGE and played[0].attrib["language"] == "vi-VN"
    assert created["sid"] not in voice.peer.hung_up  # the message ends the call, not a hang-up


def test_without_a_voicemail_a_machine_is_hung_up_on(voice: VoiceWorld) -> None:
    phone = "+84911000202"
    voice.peer.network.population = {phone: dataclasses.replace(MACHINE, phone=phone)}
    voice.contact(phone)
    attempt = voice.attempt_row(voice.call(phone))
    assert (attempt.state, attempt.end_reason) == (CallState.MACHINE, "")
    assert voice.peer.created[-1]["sid"] in voice.peer.hung_up and not voice.peer.twiml_updates
