"""The small version of bench/explain_dashboard.py: every GET route of the app, visited as an admin on a
seeded province (simulator/province_db, statistics gathered), and the plan of every query it runs.

A query on a big table must not read the whole table where an index can serve it: on SQLite a plan step
`SCAN <table>` without an index (planned without the small tables' statistics, as for big ones); on PostgreSQL (sequential scans are right on small tables) a
`Seq Scan` that remains with `enable_seqscan` off, i.e. no index could replace it.  The routes are
read from the router, so a route added later is walked too; one with path parameters needs its values
in robocall.web.route_walk.dashboard_values, or this test names it.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import Engine
from webhelp import ROOT

from robocall.accounts import add_user
from robocall.config import reset_settings
from robocall.migrate import upgrade
from robocall.query_plans import Statement, explain, no_sequential_scans
from robocall.web.app import create_app
from robocall.web.route_walk import Visit, dashboard_values, paths_to_visit, visit
from simulator.province_db import DISTRICTS, fill_contacts, fill_province

ADMIN, PASSWORD = "quan_tri", "mật khẩu đủ dài"
CONTACTS, MESSAGES = 4_000, 20_000
TODAY = dt.date(2021, 8, 20)

# Full reads that are the right plan, with the reason.  Matched on (table, a piece of the statement).
EXPECTED_SCANS = {
    # accepted_at is not indexed on purpose: the three updates of sending a message stay HOT (no index
    # write) on PostgreSQL (docs/architecture.md, migration 0007).  The report reads the messages once.
    ("smsmessage", "smsmessage.accepted_at"): "the report's campaign SMS of a period",
    # The report's calls of a period: one pass.  An index on queued_at was tried: SQLite, which has no range
    # statistics, walked it even for a period covering every call (a million lookups instead of one pass).
    ("callattempt", "callattempt.queued_at >="): "the report's calls of a period",
    # /sms-campaigns: the figures of every campaign count every message.
    ("smsmessage", "GROUP BY smsmessage.campaign_id, smsmessage.state"): "every campaign's figures",
}
# The report with no period counts every row of the history: reading each table whole is the plan.
WHOLE_HISTORY = ("/reports", "/api/v1/report")


def expected(table: str, statement: Statement, path: str) -> bool:
    if path in WHOLE_HISTORY:
        return True
    return any(table == t and piece in statement.sql for (t, piece) in EXPECTED_SCANS)


@pytest.fixture
def province(db_engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, dict[str, int]]:
    for name, value in {"FLOWS_DIR": str(ROOT / "ivr_flows"), "AUDIO_DIR": str(ROOT / "audio"),
                        "SECRET_KEY": "test secret", "METRICS_TOKEN": "metrics-token",
                        "SMS_API_TOKEN": "sms-token"}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    upgrade(db_engine)
    fill_contacts(db_engine, CONTACTS, details=True)
    ids = fill_province(db_engine, messages=MESSAGES, today=TODAY)  # ANALYZE included
    if db_engine.dialect.name == "sqlite":
        # Statistics of a few thousand rows make SQLite read small tables whole, rightly; without them it
        # plans as for big tables (an equality on an index picks a few rows), which is what is checked here.
        # PostgreSQL keeps its statistics and plans with enable_seqscan off instead.
        with db_engine.begin() as c:
            c.execute(text("DELETE FROM sqlite_stat1"))
        db_engine.dispose()
    add_user(db_engine, ADMIN, "admin", PASSWORD)
    return db_engine, ids


def walk(ids: dict[str, int]) -> tuple[list[Visit], list[str]]:
    async def main() -> tuple[list[Visit], list[str]]:
        app = create_app()
        async with TestClient(TestServer(app)) as client:
            page = await (await client.get("/login")).text()
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await client.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token})
            paths, left_out = paths_to_visit(app, dashboard_values(ids, TODAY.isoformat(), DISTRICTS[3], "Xã 4-1"),
                                             extra=["/metrics"])
            visits = []
            for path in paths:
                headers = ({"Authorization": "Bearer metrics-token"} if path == "/metrics" else
                           {"Authorization": "Bearer sms-token"} if path.startswith("/api/sms/") else {})
                visits.append(await visit(client, path, headers))
            return visits, left_out
    return asyncio.run(main())


def full_scans(engine: Engine, visits: list[Visit]) -> list[str]:
    found = []
    with engine.connect() as connection, no_sequential_scans(connection):
        for v in visits:
            for statement in {s.sql: s for s in v.statements}.values():
                plan = explain(connection, statement)
                found += [f"{v.path}: {scan}\n    {statement.head}\n    {plan.text}" for scan in plan.scans
                          if scan.how == "table" and not expected(scan.table, statement, v.path)]
    return found


def test_every_dashboard_query_on_a_big_table_uses_an_index(province: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = province
    visits, left_out = walk(ids)
    assert not left_out, f"routes with parameters the walk has no values for (robocall/web/route_walk.py): {left_out}"
    failed = [f"{v.path}: HTTP {v.status}" for v in visits if v.status >= 400]
    assert not failed, "every page must be read for its queries to be checked: " + ", ".join(failed)
    paths = {v.path.split("?")[0] for v in visits}
    for page in ("/escalations", "/home-visits", "/lists/monitoring", "/reports", "/audit", "/metrics",
                 f"/sms-campaigns/{ids['sms_campaign']}", "/api/v1/escalations", "/api/sms/campaigns"):
        assert page in paths, f"{page} was not walked"
    assert sum(len(v.statements) for v in visits) > 200  # the pages' queries were captured
    scans = full_scans(engine, visits)
    assert not scans, "full scans of big tables:\n" + "\n".join(scans)


def test_a_query_no_index_can_serve_is_named_and_the_province_is_seeded(
        province: tuple[Engine, dict[str, int]]) -> None:
    """The check can fail: smsmessage has no index on campaign_id alone (by design), so counting one
    campaign's messages by campaign_id alone reads the whole table, and the plan says so.  And the
    seeded province has what the pages show (else the walk above proves little)."""
    engine, ids = province
    table_scan = Statement("SELECT count(*) FROM smsmessage WHERE campaign_id = 1", {})
    indexed = Statement("SELECT count(*) FROM escalation WHERE status = 'open' AND level = 'urgent'", {})
    with engine.connect() as connection, no_sequential_scans(connection):
        flagged = explain(connection, table_scan).scans
        fine = explain(connection, indexed).scans
    assert [(s.table, s.how) for s in flagged] == [("smsmessage", "table")]
    assert fine == []
    with engine.connect() as c:
        counts = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("contact", "followup", "callattempt", "answer", "escalation", "casetask", "smsmessage")}
        open_cases = c.execute(text("SELECT count(*) FROM escalation WHERE status = 'open'")).scalar()
        loaded = c.execute(text("SELECT loaded_from, loaded_up_to FROM smscampaign WHERE id = :id"),
                           {"id": ids["sms_campaign"]}).one()
        outside = c.execute(text("SELECT count(*) FROM smsmessage WHERE campaign_id = :id AND (id <= :low OR id > :high)"),
                            {"id": ids["sms_campaign"], "low": loaded[0], "high": loaded[1]}).scalar()
    assert counts["contact"] == CONTACTS and counts["smsmessage"] == MESSAGES
    assert counts["followup"] == CONTACTS  # a fifth of the contacts, five days
    assert counts["callattempt"] > counts["followup"] and counts["answer"] > counts["followup"]
    assert 0 < (open_cases or 0) < (counts["escalation"] or 0) and counts["casetask"]
    assert outside == 0  # a campaign's messages lie within the ids its load spans
