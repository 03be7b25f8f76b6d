"""Keyset paging of the escalation queue (robocall/web/paging.py via escalation_queries.QUEUE_ORDERS), in the
JSON API and on the page: paged to the end while cases arrive, none repeated or missed, in the queue's
order (most urgent, then oldest); a bad cursor is a 400 naming it; a district officer's scope and the
filters hold on every page."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select
from webhelp import login, run_client
from webseed import PASSWORD

from robocall.accounts import add_user
from robocall.labels import level_rank
from robocall.models import Contact, Escalation, EscalationStatus, utcnow
from robocall.query_plans import Statement, capture_statements, explain, no_sequential_scans

pytestmark = pytest.mark.db
QUEUE = "/api/v1/escalations"
_PHONES = itertools.count(2_000_000)
LEVELS = ("urgent", "watch", "callback", "home_visit")


def _cases(engine: Engine, count: int, minutes_ago: int, level: str = "", district: str = "Huyện Phú Vang",
           status: str = EscalationStatus.OPEN) -> list[int]:
    """`count` cases of people in `district`, flagged `minutes_ago` (the same moment for all: the id breaks
    the tie), of the given level or of the four in turn."""
    with DbSession(engine) as db:
        cases = []
        for i in range(count):
            contact = Contact(phone=f"+8492{next(_PHONES):07d}", name=f"Ca {i}", category="F1", district=district,
                              commune="Xã 1")
            db.add(contact)
            db.flush()
            cases.append(Escalation(contact_id=contact.id, flow="f1_f2_followup", rule="co_trieu_chung",
                                    level=level or LEVELS[i % len(LEVELS)], reason="Ho", status=status,
                                    created_at=utcnow() - dt.timedelta(minutes=minutes_ago)))
        db.add_all(cases)
        db.commit()
        return [c.id for c in cases if c.id is not None]


def _queue_order(engine: Engine, ids: list[int]) -> list[int]:
    with DbSession(engine) as db:
        found = db.exec(select(Escalation).where(col(Escalation.id).in_(ids))).all()
    return [e.id for e in sorted(found, key=lambda e: (level_rank(e.level)[0], e.created_at, e.id or 0))
            if e.id is not None]


def _all_pages(client: TestClient, path: str, between: Any = None) -> Any:
    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        bodies: list[dict[str, Any]] = []
        cursor = ""
        for step in range(100):
            response = await client.get(path + (f"&cursor={cursor}" if cursor else ""))
            assert response.status == 200, await response.text()
            body = await response.json()
            bodies.append(body)
            rows += body["rows"]
            if between:
                between(step)
            if body["next"] is None:
                return rows, bodies
            cursor = body["next"]
        raise AssertionError("never reached the end")
    return read()


def test_the_api_pages_the_queue_to_the_end_while_cases_arrive_missing_and_repeating_none(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    _cases(engine, 36, minutes_ago=300)
    with DbSession(engine) as db:
        before = set(db.exec(select(Escalation.id).where(
            col(Escalation.status).in_(("open", "acknowledged")))).all())

    reports: list[int] = []

    def arrive(step: int) -> None:
        # Between pages: an urgent case (among the first pages), a watch case flagged long ago (first of
        # its level: beside or before the pages read), and a report (after every page).
        _cases(engine, 1, 0, "urgent")
        _cases(engine, 1, 1000, "watch")
        reports.extend(_cases(engine, 1, 0, "report"))

    async def scenario(client: TestClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        await login(client, "viewer")
        return await _all_pages(client, f"{QUEUE}?limit=5", arrive)

    rows, bodies = run_client(make_app(), scenario)
    seen = [r["id"] for r in rows]
    assert len(seen) == len(set(seen)), "a case came twice"
    assert before <= set(seen), f"missed {len(before - set(seen))} cases that were there from the start"
    assert seen == _queue_order(engine, seen)  # most urgent, then oldest, throughout
    # The reports flagged between pages sort after every page: all read but the one after the last page.
    assert set(reports[:-1]) <= set(seen) and reports[-1] not in seen
    assert [b["page"] for b in bodies] == list(range(1, len(bodies) + 1)) and bodies[0]["prev"] is None
    assert bodies[-1]["total"] > bodies[0]["total"] and len(bodies) >= 8


def test_previous_pages_and_the_other_orders_give_the_same_rows_back(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    ids = _cases(engine, 12, minutes_ago=60, level="watch") + _cases(engine, 5, minutes_ago=30, level="watch",
                                                                      status=EscalationStatus.RESOLVED)

    async def scenario(client: TestClient) -> dict[str, list[int]]:
        await login(client, "viewer")
        found = {}
        for sort in ("newest", "oldest"):
            rows, _ = await _all_pages(client, f"{QUEUE}?sort={sort}&status=all&level=watch&limit=4")
            found[sort] = [r["id"] for r in rows]
        first = await (await client.get(f"{QUEUE}?level=watch&limit=4")).json()
        second = await (await client.get(f"{QUEUE}?level=watch&limit=4&cursor={first['next']}")).json()
        back = await (await client.get(f"{QUEUE}?level=watch&limit=4&cursor={second['prev']}")).json()
        assert back["rows"] == first["rows"] and back["page"] == 1 and back["prev"] is None and second["page"] == 2
        return found

    found = run_client(make_app(), scenario)
    assert set(ids) <= set(found["oldest"]) and found["newest"] == found["oldest"][::-1]
    with DbSession(engine) as db:
        created = {e.id: e.created_at for e in db.exec(select(Escalation).where(col(Escalation.id).in_(ids)))}
    mine = [i for i in found["oldest"] if i in created]
    assert mine == sorted(mine, key=lambda i: (created[i], i))


def _forged(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


BAD = [
    "not-a-cursor!!",
    _forged(["list", ["a", "b", "c", 1], 0, 2]),  # a line list's cursor
    _forged(["queue_newest", ["2021-08-01T00:00:00+00:00", 1], 0, 2]),  # another order's (sort=level asked)
    _forged(["queue_level", ["urgent", "2021-08-01T00:00:00+00:00", 1], 0, 2]),  # a level's name for its rank
    _forged(["queue_level", [0, "yesterday", 1], 0, 2]),
]


def test_a_bad_cursor_is_a_400_naming_it_in_vietnamese_first(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[tuple[int, dict[str, Any], int, str]]:
        await login(client, "viewer")
        answers = []
        for cursor in BAD:
            api = await client.get(f"{QUEUE}?sort=level&cursor={cursor}")
            page = await client.get(f"/escalations?cursor={cursor}")
            answers.append((api.status, await api.json(), page.status, await page.text()))
        return answers

    for api, body, page, html in run_client(make_app(), scenario):
        assert api == 400 and body["field"] == "cursor" and body["error"].startswith("cursor: con trỏ"), body
        assert " / " in body["error"] and page == 400 and "cursor" in html


def test_a_district_officer_pages_only_their_district_and_the_page_keeps_filters(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    vang = _cases(engine, 23, minutes_ago=90)
    _cases(engine, 30, minutes_ago=80, district="Huyện Phú Lộc")
    add_user(engine, "can_bo_phu_vang", "cdc_staff", PASSWORD, "Huyện Phú Vang")

    async def scenario(client: TestClient) -> tuple[list[dict[str, Any]], list[str]]:
        page = await (await client.get("/login")).text()
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        await client.post("/login", data={"username": "can_bo_phu_vang", "password": PASSWORD, "csrf_token": csrf},
                          allow_redirects=False)
        rows, _ = await _all_pages(client, f"{QUEUE}?limit=6&category=F1")
        # The page: 20 rows, "›" to the rest with the filter kept; "load more"'s next page alone.
        html = await (await client.get("/escalations?category=F1")).text()
        next_url = re.search(r'href="([^"]+)" rel="next"', html)
        more = re.search(r'data-next="([^"]+)"', html)
        assert next_url and more
        pages = []
        for url in (next_url.group(1), more.group(1)):
            pages.append(await (await client.get(url.replace("&amp;", "&"))).text())
        return rows, [html, *pages, more.group(1)]

    rows, (first, second, appended, more) = run_client(make_app(), scenario)
    assert {r["district"] for r in rows} == {"Huyện Phú Vang"} and set(vang) <= {r["id"] for r in rows}
    assert len(rows) == len({r["id"] for r in rows})
    ids = [re.findall(r'<tr class="esc" data-id="(\d+)"', h) for h in (first, second, appended)]
    assert len(ids[0]) == 20 and ids[1] == ids[2] and ids[1] and not set(ids[1]) & set(ids[0])
    assert "category=F1" in more and "partial=1" in more and "shown=20" in more
    assert "Huyện Phú Lộc" not in second


def test_a_page_of_the_queue_walks_its_index_in_order_instead_of_sorting(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    """Migration 0018: the urgency order is indexed, so the page after the first of every case seeks to its
    cursor in the index and reads up to the LIMIT, without sorting the table; the unresolved cases are read
    through an index too (SQLite without statistics, as here, sorts those few; with them, or PostgreSQL,
    it walks the partial index: bench/queue_paging.py)."""
    engine, _ = seeded
    _cases(engine, 30, minutes_ago=100)

    async def scenario(client: TestClient) -> list[Statement]:
        await login(client, "viewer")
        pages = []
        for status in ("all", "unresolved"):
            first = await (await client.get(f"{QUEUE}?status={status}&limit=10")).json()
            with capture_statements() as captured:
                assert (await client.get(f"{QUEUE}?status={status}&limit=10&cursor={first['next']}")).status == 200
            pages += [s for s in captured.distinct() if "ORDER BY" in s.sql and "LIMIT" in s.sql]
        return pages

    every, unresolved = run_client(make_app(), scenario)
    with engine.connect() as connection, no_sequential_scans(connection):
        plan, other = explain(connection, every), explain(connection, unresolved)
    assert "ix_escalation_queue_order" in plan.text and "TEMP B-TREE" not in plan.text and "Sort" not in plan.text, \
        plan.text
    assert plan.scans == [] and other.scans == [] and "escalation using" in other.text.lower(), other.text
