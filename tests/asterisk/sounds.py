"""Prompt files for the tests: every Vietnamese text of a flow spoken by espeak-ng, as 8 kHz WAV."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from robocall.telephony.asterisk.prompts import text_prompt_name


def texts(node: Any, language: str = "vi") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == language and isinstance(value, str):
                yield " ".join(value.split())
            else:
                yield from texts(value, language)
    elif isinstance(node, list):
        for item in node:
            yield from texts(item, language)


def speak_flow(flow_file: Path, sounds_dir: Path, language: str = "vi") -> list[Path]:
    made = []
    for text in sorted(set(texts(yaml.safe_load(flow_file.read_text(encoding="utf-8")), language))):
        wav = sounds_dir / f"{text_prompt_name(text, language)}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            speech = subprocess.run(["espeak-ng", "-v", language, "-s", "190", "--stdout", text],
                                    capture_output=True, check=True).stdout
            subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", str(wav)],
                           input=speech, check=True, capture_output=True)
        made.append(wav)
    return made
