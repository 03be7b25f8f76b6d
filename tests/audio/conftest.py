"""Audio fixtures: a tiny flow and an empty audio directory, settings pointed at both."""

from __future__ import annotations

from pathlib import Path

import pytest
from audiohelp import TINY, AudioSetup

from robocall.config import reset_settings


@pytest.fixture
def audio_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AudioSetup:
    flows_dir, audio_dir = tmp_path / "flows", tmp_path / "audio"
    flows_dir.mkdir()
    audio_dir.mkdir()
    (flows_dir / "tiny.yaml").write_text(TINY, encoding="utf-8")
    monkeypatch.setenv("FLOWS_DIR", str(flows_dir))
    monkeypatch.setenv("AUDIO_DIR", str(audio_dir))
    monkeypatch.setenv("AUDIO_ENGINE_ORDER", "espeak")  # gTTS has its own tests
    monkeypatch.setenv("TELEPHONY_BACKEND", "asterisk")
    reset_settings()
    return AudioSetup(tmp_path, flows_dir, audio_dir)
