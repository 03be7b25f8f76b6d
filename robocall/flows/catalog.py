"""The flows a process serves: every flow in FLOWS_DIR, loaded once per process.

Workers, the SMS declaration and the web server all take their flows from here, so a flow is
read, checked and refused (problems logged as `file:line: message`) the same way everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from robocall.config import Settings
from robocall.flows.loader import Flow, load_flows, vocabulary_of
from robocall.flows.problems import Problem
from robocall.flows.vocabulary import Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowCatalog:
    flows: dict[str, Flow]
    problems: list[Problem]  # why the refused flows were refused
    vocabulary: Vocabulary  # what staff read for the flows' answers, values and levels


@lru_cache(maxsize=4)
def _load(flows_dir: Path, audio_dir: Path) -> FlowCatalog:
    flows, problems = load_flows([flows_dir], audio_dir)
    for problem in problems:
        log.error("flow refused: %s", problem)
    return FlowCatalog(flows, problems, vocabulary_of(flows.values()))


def flow_catalog(settings: Settings) -> FlowCatalog:
    """The flows of FLOWS_DIR (with AUDIO_DIR for their recorded files), loaded on first use."""
    return _load(Path(settings.flows_dir), Path(settings.audio_dir))


def forget_loaded_flows() -> None:
    """Read the flow files again on next use (tests that change FLOWS_DIR, a reload)."""
    _load.cache_clear()
