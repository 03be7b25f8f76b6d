"""`robocall audio build`: render every prompt of some flows, counting where each sound came from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from robocall.audio.prompts import Prompt, prompts_of
from robocall.audio.render import Outcome, Renderer
from robocall.flows.loader import Flow

SOURCES = ("recorded", "gtts", "espeak", "cached", "failed")


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    results: list[tuple[Prompt, Outcome]] = field(default_factory=list)

    def add(self, prompt: Prompt, outcome: Outcome) -> None:
        self.counts[outcome.source] += 1
        self.results.append((prompt, outcome))

    @property
    def failures(self) -> list[tuple[Prompt, Outcome]]:
        return [(prompt, outcome) for prompt, outcome in self.results if not outcome.ok]


def all_prompts(flows: Iterable[Flow]) -> list[Prompt]:
    return [prompt for flow in flows for prompt in prompts_of(flow)]


def build(renderer: Renderer, prompts: Sequence[Prompt], formats: Sequence[str],
          on_each: Callable[[Prompt, Outcome], None] | None = None) -> Summary:
    """Render each prompt in each format; a prompt with contact fields gets its per-call fallback
    (the text without the fields), since the contact's own words are only known during the call."""
    summary = Summary()
    for prompt in prompts:
        outcome = renderer.render(prompt, formats, text=renderer.fallback_of(prompt))
        summary.add(prompt, outcome)
        if on_each is not None:
            on_each(prompt, outcome)
    return summary
