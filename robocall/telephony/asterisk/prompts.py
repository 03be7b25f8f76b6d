"""Which sound file Asterisk plays for a Say action, and the count of prompts it could not play.

Asterisk names sound files without their extension and picks the best format it has
(.wav, .sln, .gsm...).  A recorded prompt (`Say.audio`) is played from its path under the
sounds directory; a text prompt from ``tts/<language>/<hash of the text>``, the file the audio
build renders for that text.  The sounds directory is the path *as Asterisk sees it*.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from pathlib import PurePosixPath

from robocall.flows.engine import Say

log = logging.getLogger(__name__)

# Prompts Asterisk could not play, by file name (also logged as errors): never a silent skip.
MISSING_PROMPTS: Counter[str] = Counter()


def text_prompt_name(text: str, language: str) -> str:
    digest = hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:20]
    return f"tts/{language}/{digest}"


class PromptFiles:
    def __init__(self, sounds_dir: str) -> None:
        self.sounds_dir = PurePosixPath(sounds_dir)

    def __call__(self, say: Say) -> str:
        if say.audio:
            path = PurePosixPath(say.audio)
            name = str(path.with_suffix("")) if path.suffix else str(path)
            return name if path.is_absolute() else str(self.sounds_dir / name)
        return str(self.sounds_dir / text_prompt_name(say.text, say.language))


def missing_prompt(name: str, channel: str) -> None:
    MISSING_PROMPTS[name] += 1
    log.error("Asterisk could not play prompt %s on %s (file missing or unreadable there)", name, channel)
