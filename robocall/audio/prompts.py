"""Every text a flow can say, keyed by (flow, node, kind, language).

A node says its `say` text when entered (kind `prompt`); a question also says its `no_input` or
`invalid` text (its own, else the flow's default) before asking again.  The give-up text is simply
the `say` of the give-up node.  A flow's `voicemail` is a prompt of the node `_voicemail`.  These are the same texts the engine puts in its `Say` actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from robocall.flows.engine import VOICEMAIL_NODE
from robocall.flows.loader import Flow
from robocall.flows.templates import fields_in, render

Kind = Literal["prompt", "no_input", "invalid"]
KINDS: tuple[Kind, ...] = ("prompt", "no_input", "invalid")


@dataclass(frozen=True)
class Prompt:
    flow: str
    node: str
    kind: Kind
    language: str
    text: str  # the template as written, `{{ name }}` and all
    play: str | None = None  # the flow's own `play:` file (relative to AUDIO_DIR), prompts only
    shared: bool = False  # a no_input/invalid text taken from the flow's defaults

    @property
    def fields(self) -> frozenset[str]:
        """Contact fields and answers the text uses: such a prompt is rendered per call."""
        return fields_in(self.text)

    @property
    def label(self) -> str:
        kind = "" if self.kind == "prompt" else f".{self.kind}"
        return f"{self.flow}/{self.node}{kind}.{self.language}"


def prompts_of(flow: Flow) -> list[Prompt]:
    """All prompts of a flow, in node order, every language and kind."""
    spec = flow.spec
    found: list[Prompt] = []
    for node_id, node in spec.nodes.items():
        for language in spec.languages:
            text = (node.say or {}).get(language, "")
            play = (node.play or {}).get(language)
            if text or play:
                found.append(Prompt(flow.name, node_id, "prompt", language, text, play))
            if not node.is_question:
                continue
            for kind in ("no_input", "invalid"):
                own = getattr(node, kind)
                texts = own or getattr(spec.defaults, kind) or {}
                if texts.get(language):
                    found.append(Prompt(flow.name, node_id, kind, language, texts[language], shared=own is None))
    for language, text in (spec.voicemail or {}).items():
        if text:  # left on answering machines; recorded as audio/recorded/<flow>/_voicemail.<lang>.wav
            found.append(Prompt(flow.name, VOICEMAIL_NODE, "prompt", language, text))
    return found


def find_prompt(flow: Flow, node: str, kind: str, language: str) -> Prompt | None:
    for prompt in prompts_of(flow):
        if (prompt.node, prompt.kind, prompt.language) == (node, kind, language):
            return prompt
    return None


def fieldless(text: str) -> str:
    """What is said when a prompt with fields cannot be rendered for one call: the fields left out.

    `Xin chào {{ name }}, ...` -> `Xin chào, ...` (spaces before punctuation and doubled spaces go).
    """
    said = render(text, {}) if fields_in(text) else text
    said = re.sub(r"\s+([,.;:!?])", r"\1", said)
    said = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", said)
    return re.sub(r"\s{2,}", " ", said).strip()
