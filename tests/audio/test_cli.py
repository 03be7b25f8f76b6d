"""`robocall audio build|play` and the audio warnings of `robocall flows check`, through click."""

from __future__ import annotations

import re

import pytest
from audiohelp import AudioSetup, read_wav
from click.testing import CliRunner

from robocall.cli import cli
from robocall.config import reset_settings


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _count(output: str, source: str) -> int:
    match = re.search(rf"│ {source}\s+│\s+(\d+) │", output)
    assert match, f"no '{source}' row in:\n{output}"
    return int(match.group(1))


def test_build_renders_everything_then_nothing(audio_setup: AudioSetup) -> None:
    first = _run("audio", "build")
    assert first.exit_code == 0, first.output
    assert (_count(first.output, "espeak"), _count(first.output, "cached"), _count(first.output, "failed")) == (3, 0, 0)
    second = _run("audio", "build", "tiny")
    assert (_count(second.output, "espeak"), _count(second.output, "cached")) == (0, 3)


def test_build_of_an_unknown_flow_names_the_known_ones(audio_setup: AudioSetup) -> None:
    result = _run("audio", "build", "nope")
    assert result.exit_code == 1 and "no flow named 'nope'" in result.output and "tiny" in result.output


def test_build_fails_and_says_why_when_nothing_can_render(audio_setup: AudioSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "gtts")
    monkeypatch.setenv("GTTS_TLD", "invalid")
    result = _run("audio", "build", "--format", "asterisk")
    assert result.exit_code == 1
    assert _count(result.output, "failed") == 3
    assert "failed: tiny/tam_biet.vi: gTTS" in result.output


def test_play_writes_the_wav_of_one_prompt(audio_setup: AudioSetup) -> None:
    out = audio_setup.root / "nghe" / "hoi.wav"
    result = _run("audio", "play", "tiny", "hoi", "--lang", "vi", "--field", "name=Nguyễn Văn An", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Xin chào Nguyễn Văn An." in result.output
    sound = read_wav(out)
    assert (sound.rate, sound.channels) == (8000, 1) and sound.seconds > 1
    no_input = _run("audio", "play", "tiny", "hoi", "--kind", "no_input")
    assert no_input.exit_code == 0 and "chưa nghe thấy" in no_input.output


@pytest.mark.parametrize(("args", "says"), [
    (("tiny", "khong_co"), "has no node 'khong_co'"),
    (("tiny", "tam_biet", "--kind", "invalid"), "says nothing as invalid"),
    (("tiny", "hoi", "--field", "name"), "'name' is not NAME=VALUE"),
])
def test_play_refuses_what_does_not_exist(audio_setup: AudioSetup, args: tuple[str, ...], says: str) -> None:
    result = _run("audio", "play", *args)
    assert result.exit_code != 0 and says in result.output


def test_flows_check_warns_about_missing_audio_and_contact_fields(audio_setup: AudioSetup) -> None:
    before = _run("flows", "check", str(audio_setup.flows_dir))
    assert before.exit_code == 0, before.output  # warnings never fail the check
    assert "3 of 3 prompts have no asterisk audio yet (run `robocall audio build tiny`)" in before.output
    assert "node 'hoi' (prompt, vi) uses name: rendered for each call; if that fails, plays nothing" in before.output

    assert _run("audio", "build", "--format", "asterisk").exit_code == 0
    after = _run("flows", "check", str(audio_setup.flows_dir))
    assert after.exit_code == 0
    assert "no asterisk audio" not in after.output
    assert ('plays the prompt without them: "Xin chào. Quý vị có sốt không? Có bấm phím một, không bấm phím hai."'
            in after.output)


def test_flows_check_has_no_audio_warnings_for_twilio_once_built_or_for_the_simulator(
        audio_setup: AudioSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TELEPHONY_BACKEND", "twilio")
    assert "no twilio audio yet" in _run("flows", "check", str(audio_setup.flows_dir)).output
    assert _run("audio", "build", "--format", "twilio").exit_code == 0
    assert "no twilio audio" not in _run("flows", "check", str(audio_setup.flows_dir)).output
    monkeypatch.setenv("TELEPHONY_BACKEND", "sim")
    reset_settings()
    assert "warning" not in _run("flows", "check", str(audio_setup.flows_dir)).output
