"""The collector settings of long-running processes (robocall/gc_tuning.py)."""

from __future__ import annotations

import subprocess
import sys


def test_freezing_takes_startup_objects_out_of_collections_once() -> None:
    # In a process of its own: the settings are process-wide.
    script = (
        "import gc; from robocall.gc_tuning import FIRST_GENERATION_THRESHOLD, freeze_startup_objects\n"
        "before = gc.get_freeze_count(); freeze_startup_objects(); frozen = gc.get_freeze_count()\n"
        "junk = [[i] for i in range(1000)]; freeze_startup_objects()\n"
        "print(before, frozen > 1_000, gc.get_freeze_count() == frozen, gc.get_threshold()[0] == FIRST_GENERATION_THRESHOLD)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True", "True", "True"]
