"""Benchmark: a deep page of a line list, keyset against OFFSET.

    .venv/bin/python bench/list_paging.py [--contacts 200000] [--page 2000] [--database-url URL]

Fills a migrated database (SQLite in a temporary folder by default) with people under monitoring
across districts and communes, walks to page `--page` of the monitoring list once with the "next"
cursors (robocall.web.line_lists.line_list, 20 rows a page) to get that page's cursor, then times,
median of 9 reads, that page read with its cursor (what the dashboard does) against the same rows
read with ORDER BY ... OFFSET (the baseline: what numbered pages would cost).  Both without the count,
which is the same for both.
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

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session as DbSession  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from robocall.db import make_engine  # noqa: E402
from robocall.migrate import upgrade  # noqa: E402
from robocall.models import Contact, contact_search_keys  # noqa: E402
from robocall.web.line_lists import PAGE_SIZE, line_list  # noqa: E402

AS_OF = dt.date(2021, 8, 13)
DISTRICTS = ["Huyện A Lưới", "Huyện Nam Đông", "Huyện Phong Điền", "Huyện Phú Lộc", "Huyện Phú Vang",
             "Huyện Quảng Điền", "Thành phố Huế", "Thị xã Hương Thủy", "Thị xã Hương Trà"]


def fill(engine, contacts: int) -> None:  # type: ignore[no-untyped-def]
    table = Contact.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        for start in range(0, contacts, 20_000):
            connection.execute(insert(table), [contact_search_keys({
                "phone": f"+8491{n:07d}", "name": f"Người {n * 7919 % contacts:07d}", "category": "F1",
                "district": DISTRICTS[n % len(DISTRICTS)], "commune": f"Xã {n % 23:02d}",
                "exposure_date": dt.date(2021, 8, 5), "monitoring_end": dt.date(2021, 8, 30)})
                for n in range(start, min(start + 20_000, contacts))])


def median_ms(read) -> float:  # type: ignore[no-untyped-def]
    times = []
    read()
    for _ in range(9):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--page", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}")
        upgrade(engine)
        fill(engine, args.contacts)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        with DbSession(engine) as db:
            cursor = None
            for _ in range(args.page - 1):  # the walk a client makes, with the cursors it is given
                cursor = line_list(db, "monitoring", AS_OF, cursor=cursor, count=False).next
            keyset_rows = [r.contact_id for r in line_list(db, "monitoring", AS_OF, cursor=cursor, count=False).rows]
            offset_query = (select(Contact).where(Contact.opted_out == False,  # noqa: E712
                                                  col(Contact.monitoring_end) >= AS_OF)
                            .order_by(Contact.district, Contact.commune, Contact.name, Contact.id)
                            .offset((args.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
            assert keyset_rows == [c.id for c in db.exec(offset_query).all()], "the two reads differ"
            keyset = median_ms(lambda: line_list(db, "monitoring", AS_OF, cursor=cursor, count=False))
            baseline = median_ms(lambda: db.exec(offset_query).all())
        engine.dispose()
    print(f"{args.contacts:,} contacts, page {args.page:,} ({engine.dialect.name})")
    print(f"bench list_paging: {keyset:.2f} ms, baseline {baseline:.2f} ms, ratio {baseline / max(keyset, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
