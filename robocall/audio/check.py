"""What `robocall flows check` warns about: prompts without audio for the configured backend.

Only looks in the cache (renders nothing), so a check is quick and works offline.  With the
simulator backend (TELEPHONY_BACKEND=sim) no audio is ever played, so there is nothing to warn about.
"""

from __future__ import annotations

from collections.abc import Sequence

from robocall.audio.prompts import fieldless, prompts_of
from robocall.audio.recorded import find_recording
from robocall.audio.render import Renderer
from robocall.config import Settings
from robocall.flows.loader import Flow

BACKENDS_WITH_AUDIO = ("asterisk", "twilio")
SHOWN = 5  # missing prompts named in the warning; the rest are counted


def audio_warnings(flows: Sequence[Flow], settings: Settings) -> list[str]:
    """For TELEPHONY_BACKEND asterisk or twilio: what `robocall flows check` warns about."""
    backend = settings.telephony_backend
    if backend not in BACKENDS_WITH_AUDIO or not flows:
        return []
    renderer = Renderer(settings)
    return [warning for flow in flows for warning in flow_warnings(renderer, flow, backend)]


def flow_warnings(renderer: Renderer, flow: Flow, backend: str) -> list[str]:
    """One line for the prompts missing audio, one per prompt with fields (what plays if rendering fails)."""
    warnings = []
    missing = []
    prompts = prompts_of(flow)
    for prompt in prompts:
        ready = renderer.cached(prompt, backend) is not None
        if not ready:
            missing.append(f"{prompt.node} ({prompt.kind}, {prompt.language})")
        if prompt.fields and find_recording(renderer.audio_dir, prompt) is None:
            fields = ", ".join(sorted(prompt.fields))
            instead = f"the prompt without them: \"{fieldless(prompt.text)}\"" if ready else "nothing (not built yet)"
            warnings.append(f"{flow.file}: node '{prompt.node}' ({prompt.kind}, {prompt.language}) uses {fields}: "
                            f"rendered for each call; if that fails, plays {instead}")
    if missing:
        shown = ", ".join(missing[:SHOWN]) + (f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else "")
        warnings.insert(0, f"{flow.file}: {len(missing)} of {len(prompts)} prompts have no {backend} audio yet "
                           f"(run `robocall audio build {flow.name}`): {shown}")
    return warnings
