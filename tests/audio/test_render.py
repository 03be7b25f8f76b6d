"""Rendering prompts for real: espeak-ng and sox on this machine, gTTS against an unreachable host."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from audiohelp import AudioSetup, make_recording, read_wav

from robocall.audio import Renderer, prompts_of
from robocall.audio.build import build
from robocall.config import Settings, get_settings
from robocall.flows.engine import Say
from robocall.flows.loader import load_flow


def _tiny(setup: AudioSetup):  # type: ignore[no-untyped-def]
    return load_flow(setup.flow_file, setup.audio_dir)


def _prompt(flow, node: str, kind: str = "prompt"):  # type: ignore[no-untyped-def]
    return next(p for p in prompts_of(flow) if (p.node, p.kind) == (node, kind))


def test_prompts_cover_every_kind_and_fields_are_known(audio_setup: AudioSetup) -> None:
    flow = _tiny(audio_setup)
    labels = [(p.node, p.kind, p.language, p.shared) for p in prompts_of(flow)]
    # `hoi` has no invalid text of its own and the flow has no default one: nothing to say then.
    assert labels == [("hoi", "prompt", "vi", False), ("hoi", "no_input", "vi", True),
                      ("tam_biet", "prompt", "vi", False)]
    assert _prompt(flow, "hoi").fields == {"name"}


def test_espeak_renders_8khz_mono_16bit_with_leading_silence_trimmed(audio_setup: AudioSetup) -> None:
    flow = _tiny(audio_setup)
    outcome = Renderer().render(_prompt(flow, "tam_biet"), ["asterisk", "twilio"])
    assert outcome.source == "espeak", outcome.error
    sound = read_wav(outcome.paths["asterisk"])
    assert (sound.rate, sound.channels, sound.width) == (8000, 1, 2)
    assert 0.5 < sound.seconds < 5
    assert sound.onset_seconds() < 0.02
    assert max(abs(x) for x in sound.samples) > 0.6 * 32767  # normalised to -3 dBFS
    mp3 = outcome.paths["twilio"]
    described = [subprocess.run(["soxi", option, str(mp3)], capture_output=True, text=True, check=True).stdout.strip()
                 for option in ("-t", "-r", "-c")]
    assert mp3.suffix == ".mp3" and described == ["mp3", "16000", "1"]


def test_a_recorded_file_wins_over_synthesis_and_is_trimmed_and_converted(audio_setup: AudioSetup) -> None:
    make_recording(audio_setup.audio_dir / "recorded" / "tiny" / "tam_biet.vi.wav", seconds=1.0, silence=0.5)
    flow = _tiny(audio_setup)
    summary = build(Renderer(), prompts_of(flow), ["asterisk"])
    sources = {prompt.node + "." + prompt.kind: outcome.source for prompt, outcome in summary.results}
    assert sources == {"hoi.prompt": "espeak", "hoi.no_input": "espeak", "tam_biet.prompt": "recorded"}
    recorded = dict(summary.results)[_prompt(flow, "tam_biet")]
    sound = read_wav(recorded.paths["asterisk"])
    assert (sound.rate, sound.channels) == (8000, 1)
    assert abs(sound.seconds - 1.0) < 0.05  # both half seconds of silence are gone
    assert sound.onset_seconds() < 0.02


def test_a_default_recording_serves_every_question_of_the_flow(audio_setup: AudioSetup) -> None:
    make_recording(audio_setup.audio_dir / "recorded" / "tiny" / "_default.no_input.vi.wav")
    outcome = Renderer().render(_prompt(_tiny(audio_setup), "hoi", "no_input"), ["asterisk"])
    assert outcome.source == "recorded"


def test_only_changed_prompts_are_rendered_again(audio_setup: AudioSetup) -> None:
    flow = _tiny(audio_setup)
    first = build(Renderer(), prompts_of(flow), ["asterisk", "twilio"])
    assert first.counts == {"espeak": 3}
    before = {path: path.stat().st_mtime_ns for path in audio_setup.cache_files}
    assert len(before) == 6  # 3 prompts x 2 formats

    again = build(Renderer(), prompts_of(flow), ["asterisk", "twilio"])
    assert again.counts == {"cached": 3}

    time.sleep(0.01)  # mtimes in ns: a rewrite would show
    audio_setup.flow_file.write_text(audio_setup.flow_file.read_text().replace("Tạm biệt.", "Chào tạm biệt."))
    changed = build(Renderer(), prompts_of(_tiny(audio_setup)), ["asterisk", "twilio"])
    assert changed.counts == {"cached": 2, "espeak": 1}
    after = {path: path.stat().st_mtime_ns for path in audio_setup.cache_files}
    assert {path: after[path] for path in before} == before  # nothing old was rewritten
    assert len(set(after) - set(before)) == 2  # the changed prompt, in both formats


def test_gtts_failing_falls_back_to_espeak_and_leaves_no_empty_or_partial_file(
        audio_setup: AudioSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A reserved top-level domain never resolves, so gTTS fails here with or without a network.
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "gtts,espeak")
    monkeypatch.setenv("GTTS_TLD", "invalid")
    monkeypatch.setenv("GTTS_TIMEOUT", "2")
    started = time.monotonic()
    summary = build(Renderer(Settings()), prompts_of(_tiny(audio_setup)), ["asterisk", "twilio"])
    assert time.monotonic() - started < 20
    assert summary.counts == {"espeak": 3}
    everything = [p for p in (audio_setup.audio_dir / "cache").rglob("*") if p.is_file()]
    assert everything and all(p.stat().st_size > 0 for p in everything)
    assert not [p for p in everything if p.name.startswith(".tmp-")]


def test_a_failed_render_leaves_nothing_and_is_counted(audio_setup: AudioSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "gtts")
    monkeypatch.setenv("GTTS_TLD", "invalid")
    summary = build(Renderer(Settings()), prompts_of(_tiny(audio_setup)), ["asterisk"])
    assert summary.counts == {"failed": 3}
    assert "gTTS" in summary.failures[0][1].error
    assert [p for p in (audio_setup.audio_dir / "cache").rglob("*") if p.is_file() and p.name != ".secret"] == []


def test_playable_renders_a_prompt_with_a_name_per_call_and_caches_it(audio_setup: AudioSetup) -> None:
    flow = _tiny(audio_setup)
    renderer = Renderer()
    say = Say("Xin chào Nguyễn Văn An. Quý vị có sốt không? Có bấm phím một, không bấm phím hai.", "vi")
    path = renderer.playable(flow, "hoi", say, "asterisk")
    assert path is not None and read_wav(path).seconds > 1
    mtime = path.stat().st_mtime_ns
    assert renderer.playable(flow, "hoi", say, "asterisk") == path
    assert path.stat().st_mtime_ns == mtime
    other = renderer.playable(flow, "hoi", Say(say.text.replace("An", "Bình"), "vi"), "asterisk")
    assert other is not None and other != path
    twilio = renderer.playable(flow, "hoi", say, "twilio")
    assert twilio is not None and twilio.suffix == ".mp3" and twilio.stem == path.stem


def test_playable_falls_back_to_the_prompt_without_fields_when_rendering_is_impossible(
        audio_setup: AudioSetup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    flow = _tiny(audio_setup)
    build(Renderer(), prompts_of(flow), ["asterisk"])
    fallback = Renderer().cached(_prompt(flow, "hoi"), "asterisk")
    assert fallback is not None
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "gtts")  # and its service does not answer
    monkeypatch.setenv("GTTS_TLD", "invalid")
    offline = Renderer(Settings())
    say = Say("Xin chào Nguyễn Văn An. Quý vị có sốt không? Có bấm phím một, không bấm phím hai.", "vi")
    assert offline.playable(flow, "hoi", say, "asterisk") == fallback
    # A prompt never built, and no engine answers: the backend is told to speak the text itself.
    assert offline.playable(flow, "nowhere", Say("Một câu khác.", "vi"), "asterisk") is None


def test_playable_honours_the_flows_play_file(audio_setup: AudioSetup) -> None:
    make_recording(audio_setup.audio_dir / "prompts" / "chao.wav", seconds=0.7, silence=0.2)
    flow = _tiny(audio_setup)
    path = Renderer().playable(flow, "tam_biet", Say("Cảm ơn quý vị. Tạm biệt.", "vi", "prompts/chao.wav"), "asterisk")
    assert path is not None and abs(read_wav(path).seconds - 0.7) < 0.05


def test_settings_reject_an_unknown_engine(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "espeak,festival")
    try:
        get_settings()
    except ValueError as error:
        assert "festival" in str(error)
    else:
        raise AssertionError("an unknown engine was accepted")


def test_cache_names_are_keyed_so_they_cannot_be_derived_from_the_text(tmp_path: Path) -> None:
    from robocall.audio.cache import AudioCache

    one, two = AudioCache(tmp_path / "a"), AudioCache(tmp_path / "b")
    assert one.name("espeak", "vi@150", "vi", "Xin chào An") == one.name("espeak", "vi@150", "vi", "Xin chào An")
    assert one.name("espeak", "vi@150", "vi", "Xin chào An") != two.name("espeak", "vi@150", "vi", "Xin chào An")
    assert len(one.name("x")) == 32  # 128 bits
