"""Text-to-speech engines: each writes one source file for a text, or raises SynthesisError.

gTTS (Google Translate's voice, clear Vietnamese) needs the network: it is given a short timeout,
and after a failure it rests for a while so a call or a build without network does not wait on
every prompt.  espeak-ng (Debian) works offline: robotic but intelligible Vietnamese.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from robocall.audio.convert import sox_handles_mp3


class SynthesisError(RuntimeError):
    pass


class Gtts:
    name = "gtts"
    suffix = ".mp3"

    def __init__(self, timeout: float, tld: str, rest_seconds: float) -> None:
        self.timeout = timeout
        self.tld = tld
        self.rest_seconds = rest_seconds
        self._resting_until = 0.0

    def voice(self, language: str) -> str:
        return f"{language}@{self.tld}"

    def synthesize(self, text: str, language: str, target: Path) -> None:
        # Imported here: gTTS pulls in requests, which only this engine needs.
        from gtts import gTTS, gTTSError

        if time.monotonic() < self._resting_until:
            raise SynthesisError("gTTS failed a moment ago; resting")
        if not sox_handles_mp3():
            raise SynthesisError("sox cannot read gTTS's MP3 (install libsox-fmt-mp3)")
        try:
            speech = gTTS(text, lang=language, tld=self.tld, lang_check=False, timeout=self.timeout)
            with target.open("wb") as out:
                speech.write_to_fp(out)
        except (gTTSError, OSError, ValueError, AssertionError) as error:
            self._resting_until = time.monotonic() + self.rest_seconds
            raise SynthesisError(f"gTTS: {error}") from None


class Espeak:
    name = "espeak"
    suffix = ".wav"

    def __init__(self, voices: dict[str, str], speed: int) -> None:
        self.voices = voices
        self.speed = speed

    def voice(self, language: str) -> str:
        return f"{self.voices.get(language, language)}@{self.speed}"

    def synthesize(self, text: str, language: str, target: Path) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise SynthesisError("espeak-ng is not installed (scripts/install_system_packages.sh installs it)")
        voice = self.voices.get(language, language)
        command = [program, "-v", voice, "-s", str(self.speed), "-w", str(target), "--", text]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise SynthesisError("espeak-ng took longer than 60 s") from None
        if done.returncode != 0:
            raise SynthesisError(f"espeak-ng (voice {voice}): {done.stderr.strip() or done.returncode}")


Engine = Gtts | Espeak
