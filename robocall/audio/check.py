"""What `robocall flows check` warns about: prompts without audio for the configured backend.

Only looks in the cache (renders nothing), so a check is quick and works offline.  With the
simulator backend (TELEPHONY_BACKEND=sim) no audio is ever played, so there is nothing to warn about.
"""

from __future__ import annotations

from robocall.audio.prompts import fieldless, prompts_of
from robocall.audio.recorded import find_recording
from robocall.audio.render import Renderer
from robocall.flows.loader import Flow

BACKENDS_WITH_AUDIO = ("asterisk", "twilio")


def audio_warnings(renderer: Renderer, flow: Flow, backend: str) -> list[str]:
    """One line per prompt missing audio, and per prompt with fields (what is played if rendering fails)."""
    if backend not in BACKENDS_WITH_AUDIO:
        return []
    warnings = []
    missing = 0
    for prompt in prompts_of(flow):
        where = f"{flow.file}: node '{prompt.node}' ({prompt.kind}, {prompt.language})"
        ready = renderer.cached(prompt, backend) is not None
        if not ready:
            missing += 1
        if prompt.fields and find_recording(renderer.audio_dir, prompt) is None:
            fields = ", ".join(sorted(prompt.fields))
            instead = fieldless(prompt.text)
            warnings.append(f"{where}: uses {fields}: rendered for each call; if that fails, plays "
                            f"{'the prompt without them' if ready else 'nothing (not built)'}: \"{instead}\"")
        elif not ready:
            warnings.append(f"{where}: no {backend} audio yet (run `robocall audio build {flow.name}`)")
    return warnings
