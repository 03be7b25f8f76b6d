"""A province's own recordings, found by the naming convention of audio/README.md.

    audio/recorded/<flow>/<node>.<lang>.wav            the node's prompt
    audio/recorded/<flow>/<node>.<kind>.<lang>.wav     its no_input / invalid text
    audio/recorded/<flow>/_default.<kind>.<lang>.wav   the flow's default no_input / invalid text

A flow's own `play:` file (a path under AUDIO_DIR) comes first: the flow author named it.
"""

from __future__ import annotations

from pathlib import Path

from robocall.audio.prompts import Prompt

RECORDED_DIR = "recorded"
# Formats sox reads with the packages the set-up installs (mp3 needs libsox-fmt-mp3).
EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg")


def recorded_candidates(audio_dir: Path, prompt: Prompt) -> list[Path]:
    """Where a recording of `prompt` may be, best first."""
    candidates: list[Path] = []
    if prompt.play:
        candidates.append(audio_dir / prompt.play)
    folder = audio_dir / RECORDED_DIR / prompt.flow
    kind = "" if prompt.kind == "prompt" else f".{prompt.kind}"
    stems = [f"{prompt.node}{kind}.{prompt.language}"]
    if prompt.shared:
        stems.append(f"_default{kind}.{prompt.language}")
    for stem in stems:
        candidates += [folder / f"{stem}{ext}" for ext in EXTENSIONS]
    return candidates


def find_recording(audio_dir: Path, prompt: Prompt) -> Path | None:
    for path in recorded_candidates(audio_dir, prompt):
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None
