"""Shared helpers for the golden tests of the shipped flows (tests/flows/test_golden_*.py).

A golden file is the exact transcript of one scripted call, kept under
``tests/flows/golden/<flow>/<case>.txt``.  The tests compare the engine's real
output with it byte for byte.  After a deliberate change to a flow or to the
transcript format, regenerate with

    UPDATE_GOLDEN=1 python -m pytest tests/flows -k golden

and read every changed file (``git diff tests/flows/golden``) before committing:
a golden that records a wrong call makes the wrong call look tested.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from pathlib import Path
from typing import Any

import pytest

from robocall.flows import Flow, load_flow
from robocall.flows.script import Transcript, run_script, sample_fields

ROOT = Path(__file__).resolve().parents[2]
FLOWS_DIR = ROOT / "ivr_flows"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
TODAY = dt.date(2021, 8, 15)
# A fixed, fictitious contact: Nguyễn Văn An, F1, exposed on 10/08/2021 (day 5).
FIELDS = sample_fields(TODAY)


def updating() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def load(name: str) -> Flow:
    return load_flow(FLOWS_DIR / f"{name}.yaml")


def play(flow: Flow, keys: list[str], language: str | None = None, fields: dict[str, Any] | None = None) -> Transcript:
    """One scripted call with the fixed contact; the caller is silent once `keys` run out."""
    return run_script(flow, keys, fields=dict(fields if fields is not None else FIELDS), language=language)


def fired(transcript: Transcript) -> list[tuple[str, str]]:
    """The escalations of a call as (rule, level), in the order they fired."""
    return [(e["rule"], e["level"]) for e in transcript.escalations]


def said(transcript: Transcript) -> list[str]:
    """Only what the robot spoke, in order."""
    return [line for line in transcript.lines if line.startswith("🤖")]


def golden_text(transcript: Transcript) -> str:
    return transcript.text() + "\n"


def check_golden(transcript: Transcript, case: str) -> None:
    """Compare the transcript with golden/<flow>/<case>.txt; with UPDATE_GOLDEN=1, (re)write the file instead."""
    path = GOLDEN_DIR / transcript.flow / f"{case}.txt"
    actual = golden_text(transcript)
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or _read(path) != actual:
            with path.open("w", encoding="utf-8", newline="\n") as out:
                out.write(actual)
        return
    if not path.is_file():
        pytest.fail(f"no golden transcript {path.relative_to(ROOT)}: run with UPDATE_GOLDEN=1, then read the file")
    expected = _read(path)
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"{path.relative_to(ROOT)} (expected)", tofile="engine output (actual)",
        ))
        pytest.fail(f"transcript differs from {path.relative_to(ROOT)} "
                    f"(UPDATE_GOLDEN=1 rewrites it; review the diff first):\n{diff}", pytrace=False)


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as source:  # no newline translation: compare exactly
        return source.read()


def keys(happy: dict[str, str], **pressed: str | list[str]) -> list[str]:
    """The happy-path script with some questions answered differently.

    `keys(HAPPY, fever="1")` presses 1 at the fever question; a list is several
    tries at one question: `keys(HAPPY, fever=["", "7", "2"])` is silence, a wrong key, then 2.
    """
    unknown = set(pressed) - set(happy)
    assert not unknown, f"no question saves {sorted(unknown)}"
    script: list[str] = []
    for name, key in happy.items():
        entry = pressed.get(name, key)
        script += entry if isinstance(entry, list) else [entry]
    return script
