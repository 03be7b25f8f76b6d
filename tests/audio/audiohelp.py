"""Helpers of the audio tests: a tiny flow, reading WAV files, making a recording.

(Kept out of conftest.py: several conftest modules exist, and `import conftest` would pick any one.)
"""

from __future__ import annotations

import array
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

TINY = """\
name: tiny
title: Tiny
languages: [vi]
start: hoi
defaults:
  give_up: tam_biet
  no_input: {vi: "Xin lỗi, chúng tôi chưa nghe thấy phím bấm."}
nodes:
  hoi:
    say: {vi: "Xin chào {{ name }}. Quý vị có sốt không? Có bấm phím một, không bấm phím hai."}
    keys: {1: yes, 2: no}
    save: sot
    label: {vi: Sốt, en: Fever}
    next: tam_biet
  tam_biet:
    say: {vi: "Cảm ơn quý vị. Tạm biệt."}
    hangup: true
"""


@dataclass
class AudioSetup:
    root: Path
    flows_dir: Path
    audio_dir: Path

    @property
    def flow_file(self) -> Path:
        return self.flows_dir / "tiny.yaml"

    @property
    def cache_files(self) -> list[Path]:
        return sorted(p for p in (self.audio_dir / "cache").rglob("*") if p.is_file() and p.name != ".secret")


@dataclass
class Sound:
    rate: int
    channels: int
    width: int
    samples: array.array

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def onset_seconds(self, threshold: int = 328) -> float:
        """Time of the first sample louder than `threshold` (328: 1 % of full scale)."""
        first = next(i for i, x in enumerate(self.samples) if abs(x) > threshold)
        return first / self.rate


def read_wav(path: Path) -> Sound:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2
        samples = array.array("h", wav.readframes(wav.getnframes()))
        return Sound(wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), samples)


def make_recording(path: Path, seconds: float = 1.0, silence: float = 0.5) -> Path:
    """A stereo 44.1 kHz tone with `silence` seconds of silence before and after, as a person might record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(path), "synth", str(seconds),
                    "sine", "440", "vol", "0.3", "pad", str(silence), str(silence)], check=True)
    return path
