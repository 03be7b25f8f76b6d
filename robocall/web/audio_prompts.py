"""A flow's prompts with the URL of their rendered audio, for the flow page's players."""

from __future__ import annotations

from typing import Any

from robocall.audio.cache import url_path
from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.config import Settings
from robocall.flows.loader import Flow


def prompt_audio(settings: Settings, flow: Flow, language: str) -> list[dict[str, Any]]:
    """The flow's prompts in `language` with the URL of their rendered audio (None: not built).

    A prompt with contact fields shows its fallback (the text without them): the one a build makes.
    """
    renderer = Renderer(settings)
    rows = []
    for prompt in prompts_of(flow):
        if prompt.language != language:
            continue
        path = renderer.cached(prompt, "twilio") or renderer.cached(prompt, "asterisk")
        rows.append({"node": prompt.node, "kind": prompt.kind, "text": prompt.text,
                     "url": url_path(path) if path else None})
    return rows
