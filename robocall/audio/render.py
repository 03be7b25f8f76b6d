"""Rendering one prompt: a recording if there is one, else each engine in order; cached.

`Renderer.playable` is the call backends' entry point: given the engine's `Say` action it returns
the file to play in the backend's format, or None (the backend then speaks the text itself).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from robocall.audio.cache import AudioCache, scratch_file
from robocall.audio.convert import ConvertError, Format, backend_format, convert
from robocall.audio.engines import Engine, Espeak, Gtts, SynthesisError
from robocall.audio.prompts import Prompt, fieldless, prompts_of
from robocall.audio.recorded import find_recording
from robocall.config import Settings, get_settings
from robocall.flows.engine import Say
from robocall.flows.loader import Flow

log = logging.getLogger(__name__)
Source = Literal["recorded", "gtts", "espeak", "cached", "failed"]
ENGINE_NAMES = ("gtts", "espeak")


@dataclass(frozen=True)
class Outcome:
    """What rendering one prompt did: `source` is what made the sound now (`cached`: nothing)."""

    source: Source
    paths: dict[str, Path] = field(default_factory=dict)  # format name -> file
    made_by: str = ""  # recorded / gtts / espeak, also for a cached file
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.source != "failed"


def engines_from(settings: Settings, names: Sequence[str]) -> list[Engine]:
    engines: list[Engine] = []
    for name in names:
        if name == "gtts":
            engines.append(Gtts(settings.gtts_timeout, settings.gtts_tld, settings.gtts_rest_seconds))
        elif name == "espeak":
            engines.append(Espeak(settings.espeak_voices, settings.espeak_speed))
    return engines


class Renderer:
    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.audio_dir = Path(settings.audio_dir)
        self.cache = AudioCache(self.audio_dir)
        # Engines tried for new renders, in order; files any engine made before are still used
        # (e.g. espeak's, when the order now names gtts only and the network is down).
        self.engines = engines_from(settings, settings.audio_engine_order)
        others = [name for name in ENGINE_NAMES if name not in settings.audio_engine_order]
        self.known = self.engines + engines_from(settings, others)
        self._recording_hashes: dict[tuple[Path, int, int], str] = {}
        self._prompts: dict[tuple[str, str], dict[tuple[str, str, str], Prompt]] = {}

    # --- one prompt -----------------------------------------------------------------------------
    def render(self, prompt: Prompt, formats: Sequence[str], text: str | None = None,
               prefer_cached: bool = False) -> Outcome:
        """Make sure `prompt` exists in every format; `text` overrides the prompt's (a per-call render).

        With `prefer_cached`, a file any engine made earlier is used before trying to synthesise
        (no waiting on the network during a call); without it, a better engine that answers now
        replaces an earlier fallback (a build run once the network is back).
        """
        fmts = [backend_format(name) for name in formats]
        recording = find_recording(self.audio_dir, prompt)
        if recording is not None:
            return self._from_recording(recording, fmts)
        said = prompt.text if text is None else text
        if not said.strip():
            return Outcome("failed", error="no text to say and no recording")

        def named(engines: list[Engine]) -> list[tuple[Engine, str]]:
            return [(engine, self.cache.name(engine.name, engine.voice(prompt.language), prompt.language, said))
                    for engine in engines]

        if prefer_cached and (found := self._first_cached(named(self.known), fmts)):
            return found
        errors = []
        for engine, name in named(self.engines):
            have = self._existing(fmts, name)
            if len(have) == len(fmts):
                return Outcome("cached", have, engine.name)
            try:
                made = self._synthesize(engine, said, prompt.language, name, fmts, have)
            except (SynthesisError, ConvertError, OSError) as error:
                errors.append(str(error))
                continue
            return Outcome(engine.name, made, engine.name)  # type: ignore[arg-type]
        if found := self._first_cached(named(self.known), fmts):
            return found
        return Outcome("failed", error="; ".join(errors) or "no text-to-speech engine configured")

    def _first_cached(self, named: list[tuple[Engine, str]], fmts: Sequence[Format]) -> Outcome | None:
        for engine, name in named:
            have = self._existing(fmts, name)
            if len(have) == len(fmts):
                return Outcome("cached", have, engine.name)
        return None

    def _existing(self, fmts: Sequence[Format], name: str) -> dict[str, Path]:
        found = {fmt.name: self.cache.existing(fmt, name) for fmt in fmts}
        return {key: path for key, path in found.items() if path is not None}

    def _synthesize(self, engine: Engine, text: str, language: str, name: str, fmts: Sequence[Format],
                    have: dict[str, Path]) -> dict[str, Path]:
        made = dict(have)
        with scratch_file(self.cache.root, engine.suffix) as source:
            engine.synthesize(text, language, source)
            if source.stat().st_size == 0:
                raise SynthesisError(f"{engine.name} wrote no sound")
            for fmt in fmts:
                if fmt.name not in made:
                    made[fmt.name] = self.cache.write(fmt, name, lambda out, fmt=fmt: convert(source, out, fmt))
        return made

    def _from_recording(self, recording: Path, fmts: Sequence[Format]) -> Outcome:
        try:
            name = self.cache.name("recorded", self.content_hash(recording))
            have = self._existing(fmts, name)
            if len(have) == len(fmts):
                return Outcome("cached", have, "recorded")
            for fmt in fmts:
                if fmt.name not in have:
                    have[fmt.name] = self.cache.write(fmt, name, lambda out, fmt=fmt: convert(recording, out, fmt))
        except (ConvertError, OSError) as error:
            return Outcome("failed", error=f"recording {recording}: {error}")
        return Outcome("recorded", have, "recorded")

    def cached(self, prompt: Prompt, backend: str) -> Path | None:
        """The file a build made for `prompt` in `backend`'s format, without rendering anything."""
        fmt = backend_format(backend)
        if not self.cache.ready():
            return None
        recording = find_recording(self.audio_dir, prompt)
        if recording is not None:
            return self.cache.existing(fmt, self.cache.name("recorded", self.content_hash(recording)))
        text = self.fallback_of(prompt)
        for engine in self.known:
            found = self.cache.existing(fmt, self.cache.name(engine.name, engine.voice(prompt.language),
                                                             prompt.language, text))
            if found is not None:
                return found
        return None

    def content_hash(self, path: Path) -> str:
        stat = path.stat()
        key = (path.resolve(), stat.st_mtime_ns, stat.st_size)
        if key not in self._recording_hashes:
            self._recording_hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._recording_hashes[key]

    # --- for the call backends ------------------------------------------------------------------
    def playable(self, flow: Flow, node: str, say: Say, backend: str) -> Path | None:
        """The file to play for `say` at `node`, in `backend`'s format (`asterisk` or `twilio`), or None.

        A prompt whose text has contact fields is rendered for this call (the rendered text is the
        key, so a repeat is cached); when that fails, the prompt without the fields is played.
        Never raises for a missing engine or a failed render: the caller then speaks the text.
        Blocking (sox, espeak-ng and gTTS run here): async code calls it through `asyncio.to_thread`.
        """
        prompt = self._prompt(flow, node, say)
        texts = [say.text]
        if prompt.fields:
            texts.append(fieldless(prompt.text))
        for text in texts:
            try:
                outcome = self.render(prompt, [backend], text=text, prefer_cached=True)
            except (ValueError, OSError) as error:  # an unknown backend format; an unwritable cache
                log.error("audio for %s: %s", prompt.label, error)
                return None
            if outcome.ok:
                return outcome.paths[backend]
            log.warning("no audio for %s: %s", prompt.label, outcome.error)
        return None

    def _prompt(self, flow: Flow, node: str, say: Say) -> Prompt:
        key = (flow.name, flow.version)
        if key not in self._prompts:
            self._prompts[key] = {(p.node, p.kind, p.language): p for p in prompts_of(flow)}
        prompt = self._prompts[key].get((node, say.kind, say.language))
        if prompt is None:
            return Prompt(flow.name, node, say.kind, say.language, say.text, say.audio)
        return replace(prompt, play=say.audio) if say.audio and say.audio != prompt.play else prompt

    def fallback_of(self, prompt: Prompt) -> str:
        """What a build renders for a prompt: its text, or without its fields (the per-call fallback)."""
        return fieldless(prompt.text) if prompt.fields else prompt.text
