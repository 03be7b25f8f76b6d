"""Residents played by dialplan: Local/<number>@residents channels whose far end follows a script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

AGI_ANSWER = ["Answer()"]


def residents_conf(scripts: Mapping[str, Sequence[str]]) -> str:
    """extensions_residents.conf: one extension per number, its steps as dialplan applications."""
    lines = ["[residents]"]
    for number, steps in scripts.items():
        for i, step in enumerate([*steps, "Hangup()"]):
            lines.append(f"exten => {number},{i + 1},{step}" if i == 0 else f" same => n,{step}")
    return "\n".join(lines) + "\n"


# Line behaviours shared by the tests.
BUSY = ["Busy(5)"]
CONGESTION = ["Congestion(5)"]
NO_ANSWER = ["Ringing()", "Wait(60)"]
REJECT = ["Hangup(21)"]
