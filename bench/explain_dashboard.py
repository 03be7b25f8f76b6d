"""Benchmark: every dashboard page and API list route at a million contacts and ten million SMS, with the
plan of every query they run.

    .venv/bin/python bench/explain_dashboard.py [--database sqlite|postgresql|both] [--contacts 1000000]
        [--messages 10000000] [--baseline-revision 0016] [--postgres-url URL] [--json FILE]

Fills a throwaway database (SQLite in a temporary folder; on PostgreSQL a database created and dropped
through the admin URL, default TEST_POSTGRES_URL's) with simulator/province_db: contacts from the
generator bench/contact_search.py searches, their follow-ups, calls, answers, cases, hotline calls, SMS
campaigns, the audit log (set-based inserts).  Then, as an admin, it visits every GET route of the app
(robocall/web/route_walk: read from the router, so a route added later is walked too), capturing each
SQL statement; runs EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) on each;
and times each page (best of two after the capturing visit).  A full scan of a big table is flagged
(robocall/query_plans).  The baseline, in the same run on the same rows: the pages timed again with the
schema taken back to `--baseline-revision` (the indexes added since dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from robocall.accounts import add_user  # noqa: E402
from robocall.config import reset_settings  # noqa: E402
from robocall.db import make_engine, normalize_url  # noqa: E402
from robocall.migrate import downgrade, upgrade  # noqa: E402
from robocall.query_plans import Plan, explain  # noqa: E402
from robocall.web.app import create_app  # noqa: E402
from robocall.web.route_walk import dashboard_values, paths_to_visit, visit  # noqa: E402
from robocall.wiring import wire  # noqa: E402
from simulator.province_db import DISTRICTS, fill_contacts, fill_province  # noqa: E402

ADMIN, PASSWORD = "quan_tri", "mật khẩu đủ dài cho bench"
METRICS_TOKEN, SMS_API_TOKEN = "bench-metrics", "bench-sms-api"
DEFAULT_POSTGRES = "postgresql+psycopg://robocall_test:robocall_test@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_database(kind: str, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'explain.db'}"
        return
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"robocall_explain_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                           "AND pid <> pg_backend_pid()"), {"n": name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed(engine: Engine, contacts: int, messages: int, today: dt.date) -> dict[str, int]:
    started = time.perf_counter()
    fill_contacts(engine, contacts, details=True)
    print(f"  {contacts:,} contacts in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    ids = fill_province(engine, messages=messages, today=today)
    with engine.connect() as c:
        counts = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("followup", "callattempt", "answer", "escalation", "escalationevent", "casetask", "smsmessage",
                   "auditlog")}
    print(f"  the rest in {time.perf_counter() - started:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
          flush=True)
    add_user(engine, ADMIN, "admin", PASSWORD)
    return ids


async def login(client: TestClient) -> None:
    page = await (await client.get("/login")).text()
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = await client.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token},
                             allow_redirects=False)
    assert done.status == 302, await done.text()


def headers_for(path: str) -> dict[str, str]:
    if path.startswith("/metrics"):
        return {"Authorization": f"Bearer {METRICS_TOKEN}"}
    if path.startswith("/api/sms/"):
        return {"Authorization": f"Bearer {SMS_API_TOKEN}"}
    return {}


async def walk(engine: Engine, ids: dict[str, int], today: dt.date, explain_plans: bool) -> dict[str, Any]:
    """{path: {status, ms, statements, scans, plans}} for every page, and the routes left out."""
    app = create_app()
    async with TestClient(TestServer(app)) as client:
        await login(client)
        district = DISTRICTS[3]
        commune = "Xã 4-1"
        paths, left_out = paths_to_visit(app, dashboard_values(ids, today.isoformat(), district, commune),
                                         extra=["/metrics"])
        pages: dict[str, Any] = {}
        for path in paths:
            first = await visit(client, path, headers_for(path))
            times = [(await visit(client, path, headers_for(path))).milliseconds for _ in range(2)]
            page: dict[str, Any] = {"status": first.status, "ms": min(times), "statements": len(first.statements),
                                    "scans": [], "plans": []}
            if explain_plans:
                with engine.connect() as connection:
                    for statement in dict.fromkeys(s.sql for s in first.statements):
                        one = next(s for s in first.statements if s.sql == statement)
                        plan: Plan = explain(connection, one, analyze=engine.dialect.name == "postgresql")
                        page["scans"] += [str(s) for s in plan.scans]
                        page["plans"].append({"sql": one.head, "plan": plan.text, "scans": [str(s) for s in plan.scans]})
                        connection.rollback()
            pages[path] = page
            verdict = "; ".join(page["scans"]) or "ok"
            print(f"  {first.status} {page['ms']:9.1f} ms  {len(first.statements):3d} q  {path}  [{verdict}]", flush=True)
    return {"pages": pages, "left_out": left_out}


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    today = dt.date.today()
    with throwaway_database(kind, args.postgres_url) as url:
        os.environ.update(DATABASE_URL=url, SECRET_KEY="bench secret", METRICS_TOKEN=METRICS_TOKEN,
                          SMS_API_TOKEN=SMS_API_TOKEN, FLOWS_DIR=str(ROOT / "ivr_flows"), AUDIO_DIR=str(ROOT / "audio"))
        reset_settings()
        engine = make_engine(url)
        try:
            upgrade(engine)
            print(f"{kind}: seeding", flush=True)
            ids = seed(engine, args.contacts, args.messages, today)
            print(f"{kind}: pages at the newest schema", flush=True)
            result = asyncio.run(walk(engine, ids, today, explain_plans=True))
            if args.baseline_revision:
                downgrade(engine, args.baseline_revision)
                _analyze(engine)
                print(f"{kind}: pages at revision {args.baseline_revision} (baseline)", flush=True)
                baseline = asyncio.run(walk(engine, ids, today, explain_plans=False))
                for path, page in baseline["pages"].items():
                    if path in result["pages"]:
                        result["pages"][path]["baseline_ms"] = page["ms"]
        finally:
            engine.dispose()
    return result


def _analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE")


def markdown(kind: str, result: dict[str, Any]) -> str:
    lines = [f"| Page ({kind}) | Queries | Time (ms) | Baseline (ms) | Plans |", "| --- | ---: | ---: | ---: | --- |"]
    for path, page in result["pages"].items():
        verdict = "; ".join(dict.fromkeys(page["scans"])) or "no full scan of a big table"
        base = f"{page['baseline_ms']:,.0f}" if "baseline_ms" in page else ""
        lines.append(f"| `{path}` | {page['statements']} | {page['ms']:,.0f} | {base} | {verdict} |")
    if result["left_out"]:
        lines.append(f"\nLeft out (no value for their parameters): {', '.join(result['left_out'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--baseline-revision", default="0016",
                        help="the revision before the dashboard indexes (0015_dashboard_indexes); '' for no baseline")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--json", type=Path, help="write every page's figures and plans here")
    args = parser.parse_args()
    wire()
    results = {}
    for kind in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        results[kind] = run(kind, args)
        print(markdown(kind, results[kind]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    flagged = sum(bool(p["scans"]) for r in results.values() for p in r["pages"].values())
    total = sum(p["ms"] for r in results.values() for p in r["pages"].values())
    base = sum(p.get("baseline_ms", 0) for r in results.values() for p in r["pages"].values())
    pages = sum(len(r["pages"]) for r in results.values())
    print(f"{pages} pages, {flagged} with a full scan of a big table")
    if args.baseline_revision:
        print(f"bench explain_dashboard: {total:,.0f} ms, baseline {base:,.0f} ms, ratio {base / max(total, 1e-9):.1f}x")
    else:  # no baseline asked: the pages' total alone
        print(f"bench explain_dashboard: {total:,.0f} ms (sum of {pages} pages; no baseline: --baseline-revision '')")


if __name__ == "__main__":
    main()
