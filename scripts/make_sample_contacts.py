#!/usr/bin/env python3
"""Rewrite data/sample_contacts.csv (deterministic): `python scripts/make_sample_contacts.py [OUTPUT]`.

The generator lives in simulator/contacts.py; `robocall demo --contacts N` uses it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.contacts import render, write_contacts_csv  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "data" / "sample_contacts.csv"

__all__ = ["render", "write_contacts_csv"]


def main(argv: list[str]) -> None:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    print(f"wrote {write_contacts_csv(output)}")


if __name__ == "__main__":
    main(sys.argv[1:])
