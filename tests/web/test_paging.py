"""Keyset paging of the line lists, the contact search and the audit log (robocall/web/paging.py), in the
JSON API and the pages: paged to the end while rows arrive, no row repeated or missed; bad cursors are a
400 naming the parameter; district scopes hold on every page."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select
from webhelp import login, run_client
from webseed import PASSWORD

from robocall.accounts import add_user
from robocall.models import AuditLog, Contact, contact_search_keys

pytestmark = pytest.mark.db
AS_OF = "2021-08-13"
LIST = f"/api/v1/lists/monitoring?as_of={AS_OF}"
_PHONES = itertools.count(1_000_000)


def _contacts(engine: Engine, prefix: str, count: int, district: str = "", first: int = 0) -> list[int]:
    """`count` people under monitoring on AS_OF, spread over three districts and four communes (one
    insert: thousands in well under a second)."""
    table = Contact.__table__  # type: ignore[attr-defined]
    rows = [contact_search_keys({
        "phone": f"+8491{next(_PHONES):07d}", "name": f"{prefix} Người {first + i:05d}",
        "category": "F1" if i % 2 else "F2", "district": district or ("Huyện Phú Lộc", "Huyện Phú Vang", "Thị xã Hương Thủy")[i % 3],
        "commune": f"Xã {i % 4}", "exposure_date": dt.date(2021, 8, 5), "monitoring_end": dt.date(2021, 8, 30)})
        for i in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    with DbSession(engine) as db:
        return list(db.exec(select(Contact.id).where(col(Contact.name).startswith(prefix))).all())  # type: ignore[arg-type]


def _in_list_order(engine: Engine, ids: list[int]) -> list[int]:
    """The ids in the lists' order as the database sorts (its own collation, on PostgreSQL too)."""
    with DbSession(engine) as db:
        return list(db.exec(select(Contact.id).where(col(Contact.id).in_(ids))
                            .order_by(Contact.district, Contact.commune, Contact.name, Contact.id)).all())  # type: ignore[arg-type]


def test_the_api_pages_a_list_to_the_end_while_people_are_added_missing_and_repeating_no_one(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    before = set(_contacts(engine, "Trước", 230))
    with DbSession(engine) as db:
        before |= {c.id for c in db.exec(select(Contact).where(col(Contact.monitoring_end) >= dt.date(2021, 8, 13)))}

    async def scenario(client: TestClient) -> tuple[list[int], list[dict[str, Any]]]:
        await login(client, "viewer")
        seen: list[int] = []
        bodies: list[dict[str, Any]] = []
        cursor = ""
        for step in range(100):
            response = await client.get(f"{LIST}&limit=25" + (f"&cursor={cursor}" if cursor else ""))
            assert response.status == 200, await response.text()
            body = await response.json()
            bodies.append(body)
            seen += [r["contact_id"] for r in body["rows"]]
            # Between pages: people sorted before the page read (at the very start), beside it, and after all.
            _contacts(engine, f"Mới {step}", 1, district="Huyện A Lưới")
            _contacts(engine, f"Sau {step}", 1, district="Thị xã Hương Thủy")
            _contacts(engine, f"Cuối {step}", 1, district="Xã đảo")
            if body["next"] is None:
                return seen, bodies
            cursor = body["next"]
        raise AssertionError("never reached the end")

    seen, bodies = run_client(make_app(), scenario)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert before <= set(seen), f"missed {len(before - set(seen))} rows that were there from the start"
    with DbSession(engine) as db:  # those sorting after every page: all read, but the one added after the last
        last_ones = {c.id for c in db.exec(select(Contact).where(col(Contact.name).startswith("Cuối")))
                     if not c.name.startswith(f"Cuối {len(bodies) - 1} ")}
    assert len(last_ones) == len(bodies) - 1 and last_ones <= set(seen)
    assert seen == _in_list_order(engine, seen)  # in the list's order throughout
    assert [b["page"] for b in bodies] == list(range(1, len(bodies) + 1)) and bodies[0]["prev"] is None
    assert bodies[-1]["total"] > bodies[0]["total"]  # the count follows the arrivals


def test_previous_and_next_pages_of_a_list_and_a_search_give_the_same_rows_back(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    _contacts(engine, "Nguyễn", 45)

    async def scenario(client: TestClient) -> None:
        await login(client, "viewer")
        for path in (f"{LIST}&limit=20", "/api/v1/contacts?q=nguyen&limit=20"):
            first = await (await client.get(path)).json()
            second = await (await client.get(f"{path}&cursor={first['next']}")).json()
            back = await (await client.get(f"{path}&cursor={second['prev']}")).json()
            assert back["rows"] == first["rows"] and back["page"] == 1 and back["prev"] is None, path
            again = await (await client.get(f"{path}&cursor={back['next']}")).json()
            assert again["rows"] == second["rows"] and again["page"] == 2, path
        # The pages: "Trang 2", rows 21-40, links that keep the filters and the language.
        html = await (await client.get(f"/lists/monitoring?as_of={AS_OF}&category=F1&lang=en")).text()
        assert "Rows 1–20 of" in html and "Page 1" in html
        next_url = html.split('id="page-next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        assert "category=F1" in next_url and "lang=en" in next_url and "as_of=2021-08-13" in next_url
        second_page = await (await client.get(next_url)).text()
        assert "Page 2" in second_page and "Rows 21–" in second_page and 'id="page-prev"' in second_page
    run_client(make_app(), scenario)


def _forged(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


SEARCH_CURSOR = _forged(["search", ["a", 1], 0, 2])


BAD = [
    ("cursor=not-a-cursor!!", "cursor"),
    (f"cursor={SEARCH_CURSOR}", "cursor"),  # a search's cursor on a list, on the audit log
    (f"cursor={_forged(['list', [1, 'b', 'c', 1], 0, 2])}", "cursor"),  # a number where a name goes
    (f"cursor={_forged(['list', ['a', 'b', 'c', -1], 0, 2])}", "cursor"),
    (f"cursor={_forged(['list', ['a', 'b', 'c', 1], 0, 0])}", "cursor"),  # page 0
    (f"cursor={_forged({'k': 1})}", "cursor"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
]


def test_a_bad_cursor_or_limit_is_a_400_naming_it_in_vietnamese_first(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> None:
        await login(client, "admin")
        for query, field in BAD:
            for path in (f"{LIST}&{query}", f"/api/v1/audit?{query}", f"/api/v1/contacts?q=nguyen&{query}"):
                if SEARCH_CURSOR in query and "contacts" in path:
                    continue  # a search's cursor is the search's own
                response = await client.get(path)
                assert response.status == 400, path
                body = await response.json()
                assert body["field"] == field and body["error"].startswith(f"{field}: ") and " / " in body["error"], body
            if field == "cursor":
                for path in (f"/lists/monitoring?{query}", f"/contacts?q=nguyen&{query}", f"/audit?{query}"):
                    if SEARCH_CURSOR in query and "contacts" in path:
                        continue
                    response = await client.get(path)
                    assert response.status == 400 and "cursor" in await response.text(), path
    run_client(make_app(), scenario)


def test_a_district_officer_sees_only_their_district_on_every_page(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    _contacts(engine, "Vùng", 90)
    add_user(engine, "can_bo_phu_vang", "viewer", PASSWORD, "Huyện Phú Vang")

    async def scenario(client: TestClient) -> int:
        token = (await client.get("/login"))
        page = await token.text()
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        await client.post("/login", data={"username": "can_bo_phu_vang", "password": PASSWORD, "csrf_token": csrf},
                          allow_redirects=False)
        rows, cursor = 0, ""
        while True:
            body = await (await client.get(f"{LIST}&limit=7" + (f"&cursor={cursor}" if cursor else ""))).json()
            assert {r["district"] for r in body["rows"]} <= {"Huyện Phú Vang"}
            rows += len(body["rows"])
            if not body["next"]:
                return rows
            cursor = body["next"]
    assert run_client(make_app(), scenario) == 30


def test_the_audit_log_pages_newest_first_while_entries_arrive_and_filters_hold(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        for i in range(40):
            db.add(AuditLog(actor="xem", action="view_contact", object_type="contact", object_id=str(i % 5)))
        db.commit()

    async def scenario(client: TestClient) -> tuple[list[int], list[dict[str, Any]]]:
        await login(client, "admin")
        seen: list[int] = []
        cursor = ""
        while True:
            body = await (await client.get("/api/v1/audit?limit=9" + (f"&cursor={cursor}" if cursor else ""))).json()
            seen += [e["id"] for e in body["entries"]]
            await client.get(LIST)  # a new audit entry (view_line_list) arrives between pages
            if not body["next"]:
                break
            cursor = body["next"]
        filtered = await (await client.get("/api/v1/audit?actor=xem&action=view_contact&object_type=contact"
                                           "&object_id=3&since=2000-01-01&until=2099-12-31&limit=3")).json()
        rest = await (await client.get("/api/v1/audit?actor=xem&action=view_contact&object_type=contact"
                                       f"&object_id=3&limit=3&cursor={filtered['next']}")).json()
        long_ago = await (await client.get("/api/v1/audit?until=2020-12-31")).json()
        family = await (await client.get("/api/v1/audit?action=view&limit=500")).json()
        return seen, [filtered, rest, long_ago, family]

    seen, (filtered, rest, long_ago, family) = run_client(make_app(), scenario)
    with DbSession(engine) as db:
        existing = set(db.exec(select(AuditLog.id).where(col(AuditLog.id) <= seen[0])).all())
    assert seen == sorted(seen, reverse=True) and set(seen) == existing  # none twice, none missed
    shown = filtered["entries"] + rest["entries"]
    assert len(shown) == 6 and {(e["actor"], e["action"], e["object_id"]) for e in shown} == {("xem", "view_contact", "3")}
    assert long_ago["entries"] == [] and long_ago["next"] is None
    assert {e["action"] for e in family["entries"]} >= {"view_contact", "view_line_list"}  # "view" is view_*
