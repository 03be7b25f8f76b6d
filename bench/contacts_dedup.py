"""Benchmark: memory a contact import holds per accepted row to find numbers given twice in one list.

    .venv/bin/python bench/contacts_dedup.py [--rows 10000000] [--baseline-rows 1000000]

Feeds `--rows` distinct Vietnamese mobile numbers through robocall.contacts.seen.SeenNumbers (what
grows with the list; batches are written and let go) and measures its peak with tracemalloc.  The
baseline, in the same run, is what the import kept before: a dict of E.164 strings to row numbers,
measured over `--baseline-rows` (it would need ~1.25 GB at 10,000,000).  Target: 10,000,000 rows under
1 GB for the whole import process (about 100 MB of it is the interpreter, SQLAlchemy and a batch).

The whole import, measured from outside (a generated file; SQLite):

    .venv/bin/python bench/contacts_dedup.py --write-csv /tmp/big.csv --rows 10000000
    DATABASE_URL=sqlite:////tmp/big.db /usr/bin/time -v .venv/bin/robocall contacts import /tmp/big.csv \\
        --today 2021-08-11   # "Maximum resident set size"
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from robocall.contacts.seen import SeenNumbers  # noqa: E402


def e164(i: int) -> str:
    return f"+8491{i:07d}" if i < 10_000_000 else f"+8498{i - 10_000_000:07d}"


def peak_new(rows: int) -> int:
    tracemalloc.start()
    seen = SeenNumbers()
    for i in range(rows):
        phone = e164(i)
        if seen.duplicate(phone) is None:
            seen.add(phone, i + 2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del seen
    return peak


def peak_old(rows: int) -> int:
    tracemalloc.start()
    seen: dict[str, int] = {}
    for i in range(rows):
        phone = e164(i)
        if phone not in seen:
            seen[phone] = i + 2
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del seen
    return peak


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("Họ và tên,Số điện thoại,Phân loại,Ngày tiếp xúc\n")
        for i in range(rows):
            out.write(f"Người {i},0{e164(i)[3:]},F1,0{1 + i % 9}/08/2021\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-rows", type=int, default=1_000_000)
    parser.add_argument("--write-csv", type=Path, default=None, help="Only write a generated list of --rows rows.")
    args = parser.parse_args()
    if args.write_csv:
        write_csv(args.write_csv, args.rows)
        print(f"wrote {args.rows:,} rows to {args.write_csv}")
        return
    old = peak_old(args.baseline_rows) / args.baseline_rows
    new = peak_new(args.rows)
    print(f"SeenNumbers over {args.rows:,} rows: peak {new / 1e6:,.0f} MB")
    print(f"bench contacts_dedup: {new / args.rows:.1f} bytes/row, baseline {old:.1f} bytes/row,"
          f" ratio {old / (new / args.rows):.2f}x")


if __name__ == "__main__":
    main()
