"""Turn any source recording into a backend's format with sox (Debian `sox`, `libsox-fmt-mp3`).

Every output goes through the same chain, so a recorded voice and a synthesised one sound alike:
mixed to mono, leading and trailing silence trimmed, resampled, peak-normalised to -3 dBFS.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Trim until 10 ms stay above 1 % of full scale (-40 dBFS): room noise in a recording stays below.
_TRIM = ["silence", "1", "0.01", "1%"]
_SOX_TIMEOUT = 60


class ConvertError(RuntimeError):
    pass


@dataclass(frozen=True)
class Format:
    """One backend's audio: where it lives under the cache, its extension and sox output options."""

    name: str
    ext: str
    rate: int
    output: tuple[str, ...]
    content_type: str


# Asterisk plays 8 kHz 16-bit signed linear natively (its `wav` format), asked for by name without extension.
ASTERISK = Format("asterisk", "wav", 8000, ("-b", "16", "-e", "signed-integer", "-t", "wav"), "audio/wav")
# Twilio <Play> takes MP3; 16 kHz mono is standard MPEG-2 (8 kHz would be the MPEG-2.5 extension).
TWILIO_MP3 = Format("twilio", "mp3", 16000, ("-t", "mp3", "-C", "32"), "audio/mpeg")
# Without MP3 support in sox: raw 8 kHz mu-law, which Twilio also plays (audio/ulaw).
TWILIO_ULAW = Format("twilio", "ulaw", 8000, ("-t", "ul"), "audio/ulaw")
BACKEND_FORMATS = ("asterisk", "twilio")
# Each extension belongs to one format, so `/audio/<name>.<ext>` finds its file.
FORMATS_BY_EXT = {fmt.ext: fmt for fmt in (ASTERISK, TWILIO_MP3, TWILIO_ULAW)}


def sox_path() -> str | None:
    return shutil.which("sox")


@lru_cache(maxsize=1)
def sox_handles_mp3() -> bool:
    """Whether this sox reads and writes MP3 (gTTS gives MP3; Twilio gets MP3)."""
    sox = sox_path()
    if sox is None:
        return False
    try:
        shown = subprocess.run([sox, "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    formats = next((line for line in shown.splitlines() if line.startswith("AUDIO FILE FORMATS:")), "")
    return "mp3" in formats.split()


def backend_format(name: str) -> Format:
    if name == "asterisk":
        return ASTERISK
    if name == "twilio":
        return TWILIO_MP3 if sox_handles_mp3() else TWILIO_ULAW
    raise ValueError(f"unknown audio format '{name}' (expected one of {', '.join(BACKEND_FORMATS)})")


def convert(source: Path, target: Path, fmt: Format) -> None:
    """Write `target` (a path whose directory exists) in `fmt`; raises ConvertError with sox's words."""
    sox = sox_path()
    if sox is None:
        raise ConvertError("sox is not installed (scripts/install_system_packages.sh installs it)")
    command = [sox, "-V1", str(source), "-c", "1", "-r", str(fmt.rate), *fmt.output, str(target),
               "remix", "-", *_TRIM, "reverse", *_TRIM, "reverse", "rate", str(fmt.rate), "norm", "-3"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_SOX_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ConvertError(f"sox took longer than {_SOX_TIMEOUT} s on {source.name}") from None
    if done.returncode != 0:
        raise ConvertError(f"sox could not convert {source.name}: {done.stderr.strip() or done.returncode}")
    if not target.is_file() or target.stat().st_size <= 64:  # a header and no sound: all silence
        raise ConvertError(f"{source.name} has no sound left after trimming silence")
