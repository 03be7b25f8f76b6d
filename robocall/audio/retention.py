"""Rendered audio older than a day is removed by `robocall purge`: per-call renders speak a contact's
name.  Their names are keyed hashes (robocall/audio/cache.py), so they cannot be told apart from the
shared prompts': every rendered file not written since the cut goes, and the shared ones are made
again by the next `robocall audio build` (or at the next call that plays them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from robocall.audio.cache import CACHE_DIR, NAME


def stale_renders(audio_dir: Path, before: dt.datetime) -> list[Path]:
    """Rendered files (`<AUDIO_DIR>/cache/<format>/<hash>.<ext>`) last written before `before`."""
    cut = before.timestamp()
    root = audio_dir / CACHE_DIR
    if not root.is_dir():
        return []
    return sorted(path for path in root.glob("*/*") if path.is_file() and NAME.match(path.stem)
                  and path.stat().st_mtime < cut)


def remove_renders(paths: list[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another purge or a build got there first
            pass
    return removed
