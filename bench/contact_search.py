"""Benchmark: contact search by name among a million contacts (names from simulator/province_db.fill_contacts).

    .venv/bin/python bench/contact_search.py [--contacts 1000000] [--database-url URL]

Fills a migrated database (SQLite in a temporary folder by default; any DATABASE_URL with
--database-url) with generated Vietnamese names, then times the dashboard's search
(`robocall.web.line_lists.line_list` with a `ContactSearch`: the ranges on the indexed folded
name and given name, the count, the first screen of rows) for a set of queries, median of the
queries.  The baseline, in the same run on the same rows, is the search as it was: an unindexed
`name LIKE '%q%'` (which, besides, neither folded accents on PostgreSQL nor escaped wildcards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func  # noqa: E402
from sqlmodel import Session as DbSession  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from robocall.db import make_engine  # noqa: E402
from robocall.migrate import upgrade  # noqa: E402
from robocall.models import Contact  # noqa: E402
from robocall.web.line_lists import ContactSearch, line_list  # noqa: E402
from simulator.province_db import fill_contacts  # noqa: E402  (the generated names, shared with explain_dashboard)

QUERIES = ["Nguyễn Văn Hù", "tran thi thu", "đức", "Phương", "NGÔ GIA", "lương ngọc yến", "Tôn Thất Bảo Kh", "vu xuan"]


def time_queries(engine, search) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds of one search (count + first screen of rows) over QUERIES, after one warm-up."""
    times = []
    with DbSession(engine) as db:
        search(db, QUERIES[0])
        for q in QUERIES:
            start = time.perf_counter()
            search(db, q)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def indexed(db: DbSession, q: str) -> int:
    return line_list(db, "search", dt.date(2021, 8, 11), search=ContactSearch.parse(q)).total


def unindexed_like(db: DbSession, q: str) -> int:
    """The search before: the raw name, LIKE on both sides, no index can serve it."""
    condition = col(Contact.name).ilike(f"%{q.strip()}%")
    total = db.exec(select(func.count()).select_from(Contact).where(condition)).one()
    db.exec(select(Contact).where(condition).order_by(Contact.district, Contact.commune, Contact.name).limit(500)).all()
    return int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}")
        upgrade(engine)
        started = time.perf_counter()
        fill_contacts(engine, args.contacts)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        print(f"{args.contacts:,} contacts written in {time.perf_counter() - started:.0f} s ({engine.dialect.name})")
        baseline = time_queries(engine, unindexed_like)
        search = time_queries(engine, indexed)
        with DbSession(engine) as db:
            print("matches per query:", {q: indexed(db, q) for q in QUERIES})
        engine.dispose()
    print(f"bench contact_search: {search:.1f} ms, baseline {baseline:.1f} ms, ratio {baseline / max(search, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
