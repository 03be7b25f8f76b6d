"""The sound file Asterisk plays for a Say action, from robocall.audio, and the count of prompts it
could not play.

`robocall.audio.render.Renderer.playable` finds (or renders, for a prompt with contact fields) the
prompt in Asterisk's format under ``AUDIO_DIR/cache/asterisk/``.  Asterisk names files without their
extension; when Asterisk runs on another machine, ASTERISK_SOUNDS_DIR is where it sees that folder.
Rendering may run sox or a speech engine, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path, PurePosixPath

from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.flows.engine import Say
from robocall.flows.loader import Flow

log = logging.getLogger(__name__)

# Prompts that could not be played, by flow/node/kind/language (also logged as errors): never a silent skip.
MISSING_PROMPTS: Counter[str] = Counter()

FlowPrompts = Callable[[Say, str], Awaitable[str | None]]  # (say, node or "") -> file name for Asterisk


class RenderedPrompts:
    def __init__(self, renderer: Renderer, flows: Mapping[str, Flow], asterisk_dir: str = "") -> None:
        self.renderer = renderer
        self.flows = flows
        self.local_dir = renderer.cache.root / "asterisk"
        self.asterisk_dir = asterisk_dir  # "" : Asterisk sees the files where robocall writes them
        self._nodes: dict[tuple[str, str], dict[tuple[str, str, str], str]] = {}

    def for_flow(self, flow_name: str) -> FlowPrompts:
        flow = self.flows.get(flow_name)

        async def name(say: Say, node: str) -> str | None:
            if flow is None:
                log.error("no prompts for flow '%s': it is not loaded", flow_name)
                return None
            node = self.node_of(flow, say) or node
            path = await asyncio.to_thread(self.renderer.playable, flow, node, say, "asterisk")
            return None if path is None else self.asterisk_name(path)

        return name

    def asterisk_name(self, path: Path) -> str:
        if not self.asterisk_dir:
            # Absolute: Asterisk reads a relative name under its own sounds folder (AUDIO_DIR is relative by default).
            return str(path.resolve().with_suffix(""))
        try:
            relative = path.relative_to(self.local_dir)
        except ValueError:
            relative = PurePosixPath(path.name)
        return str(PurePosixPath(self.asterisk_dir) / PurePosixPath(relative).with_suffix(""))

    def node_of(self, flow: Flow, say: Say) -> str:
        """The node that says `say` (recordings are found by node); "" when the text is not a fixed prompt."""
        key = (flow.name, flow.version)
        if key not in self._nodes:
            self._nodes[key] = {(p.kind, p.language, " ".join(p.text.split())): p.node
                                for p in prompts_of(flow) if not p.fields}
        return self._nodes[key].get((say.kind, say.language, " ".join(say.text.split())), "")


def missing_prompt(label: str, channel: str) -> None:
    MISSING_PROMPTS[label] += 1
    log.error("prompt %s could not be played on %s (no audio, or the file is missing on Asterisk)", label, channel)
