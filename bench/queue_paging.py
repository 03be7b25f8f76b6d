"""Benchmark: a page of the escalation queue after the first, walking migration 0018's indexes in the
queue's order (most urgent, then oldest) against the same query sorting the matching cases (baseline:
the two indexes dropped, as before 0018).

    .venv/bin/python bench/queue_paging.py [--contacts 40000] [--doublings 4] [--database-url URL]

Fills a migrated database (SQLite in a temporary folder by default; a database given by URL is filled and keeps no queue indexes after) with
simulator/province_db.py's province, its cases doubled `--doublings` times (four in five resolved), reads
the first page of the default view (unresolved) and of `status=all` through
robocall.web.escalation_queries.escalation_queue, captures the second page's query (its cursor from the
first), and times it, median of 9 reads, with the indexes and without them.
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

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session as DbSession  # noqa: E402

from robocall.config import get_settings  # noqa: E402
from robocall.db import make_engine  # noqa: E402
from robocall.migrate import upgrade  # noqa: E402
from robocall.models import utcnow  # noqa: E402
from robocall.query_plans import Statement, capture_statements  # noqa: E402
from robocall.web.escalation_queries import QueueFilters, escalation_queue  # noqa: E402
from simulator.province_db import fill_contacts, fill_province  # noqa: E402

COPY = ("INSERT INTO escalation (contact_id, flow, rule, level, reason, notify_cdc, callback, status, assignee, "
        "outcome, created_at) SELECT contact_id, flow, rule, level, reason, notify_cdc, callback, status, assignee, "
        "outcome, created_at FROM escalation")
INDEXES = ("ix_escalation_queue_order", "ix_escalation_queue_unresolved")


def second_page(engine: Engine, status: str) -> Statement:
    settings = get_settings()
    with DbSession(engine) as db:
        first = escalation_queue(db, QueueFilters(status=status, per_page=20), settings, utcnow())
    with capture_statements() as captured, DbSession(engine) as db:
        escalation_queue(db, QueueFilters(status=status, per_page=20, cursor=first.page.next), settings, utcnow())
    return next(s for s in captured.distinct() if "LIMIT" in s.sql and "FROM escalation LEFT OUTER JOIN" in s.sql)


def median_ms(engine: Engine, statement: Statement) -> float:
    parameters = tuple(statement.parameters) if isinstance(statement.parameters, list) else statement.parameters
    times = []
    with engine.connect() as connection:
        for _ in range(10):
            started = time.perf_counter()
            connection.exec_driver_sql(statement.sql, parameters).all()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=40_000)
    parser.add_argument("--doublings", type=int, default=4)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}")
        upgrade(engine)
        fill_contacts(engine, args.contacts, details=True)
        fill_province(engine, messages=1000, today=dt.date(2021, 8, 20))
        with engine.begin() as c:
            for _ in range(args.doublings):
                c.execute(text(COPY))
            c.execute(text("ANALYZE"))
            cases = dict(c.execute(text("SELECT status, count(*) FROM escalation GROUP BY status")).all())
        pages = {status: second_page(engine, status) for status in ("unresolved", "all")}
        walked = {status: median_ms(engine, s) for status, s in pages.items()}
        with engine.begin() as c:
            for name in INDEXES:
                c.execute(text(f"DROP INDEX {name}"))
            c.execute(text("ANALYZE"))
        sorted_ = {status: median_ms(engine, s) for status, s in pages.items()}
        engine.dispose()
    print(f"{args.contacts:,} contacts, cases {cases} ({engine.dialect.name}); the second page, 20 rows")
    for status in ("all", "unresolved"):
        name = "queue_paging" if status == "unresolved" else "queue_paging_all"
        print(f"bench {name}: {walked[status]:.2f} ms, baseline {sorted_[status]:.2f} ms, "
              f"ratio {sorted_[status] / max(walked[status], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
