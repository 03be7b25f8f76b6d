"""Contact search: the whole number or the start of a name, folded alike on SQLite and PostgreSQL, audited."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import Session as DbSession
from sqlmodel import select
from webhelp import login, run_client

from robocall.models import AuditLog, Contact

pytestmark = pytest.mark.db


def _search(app, *queries: str) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[tuple[int, str]]:
        await login(client, "viewer")
        out = []
        for q in queries:
            response = await client.get("/contacts", params={"q": q})
            out.append((response.status, await response.text()))
        return out
    return run_client(app, scenario)


def test_part_of_a_number_confirms_nothing(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    # The attack: the mask shows +849******03; trying the hidden digits one at a time must not work.
    answers = _search(make_app(), "003", "0003", "000003", "2000003", "12000003", "912 0000")
    assert all(status == 400 for status, _ in answers)
    assert not any("Lê Văn Cường" in text for _, text in answers)


@pytest.mark.parametrize("q", ["0912000003", "0912 000 003", "+84912000003", "84 912.000.003"])
def test_the_whole_number_in_any_usual_form_finds_the_person(make_app, seeded, q: str) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    [(status, text)] = _search(make_app(), q)
    assert status == 200 and "Lê Văn Cường" in text and "+849******03" in text
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "search_contacts")).one()
    assert entry.detail["phone"] == "+849******03" and entry.detail["rows"] == 1  # audited, and the log holds no full number


@pytest.mark.parametrize(("q", "found"), [
    ("đức", "Trần Minh Đức"), ("ĐỨC", "Trần Minh Đức"), ("Duc", "Trần Minh Đức"),
    ("Nguyen", "Nguyễn Văn An"), ("NGUYỄN", "Nguyễn Văn An"), ("nguyễn văn", "Nguyễn Văn An"),
    ("bình", "Trần Thị Bình"), ("TRAN THI", "Trần Thị Bình"),
])
def test_names_fold_case_and_accents(make_app, seeded, q: str, found: str) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        db.add(Contact(phone="+84913000123", name="Trần Minh Đức"))
        db.commit()
    [(status, text)] = _search(make_app(), q)
    assert status == 200 and found in text


def test_a_renamed_contact_is_found_by_its_new_name(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _ = seeded
    with DbSession(engine) as db:
        contact = db.exec(select(Contact).where(Contact.phone == "+84912000001")).one()
        contact.name = "Hoàng Thị Em"
        db.add(contact)
        db.commit()
    [(_, old), (_, new)] = _search(make_app(), "Nguyễn Văn", "hoang thi")
    assert "Hoàng Thị Em" not in old and "Hoàng Thị Em" in new


@pytest.mark.parametrize("q", ["%", "%%", "_", "__", "%a", "a%", "' OR 1=1 --"])
def test_wildcards_do_not_list_everyone(make_app, seeded, q: str) -> None:  # type: ignore[no-untyped-def]
    [(status, text)] = _search(make_app(), q)
    assert not any(n in text for n in ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"))
    assert status in (200, 400)


def test_the_api_names_the_field_when_a_search_is_refused(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> tuple[int, dict[str, str]]:
        await login(client, "viewer")
        response = await client.get("/api/v1/contacts", params={"q": "000003"})
        return response.status, await response.json()
    status, body = run_client(make_app(), scenario)
    assert status == 400 and body["field"] == "q" and body["error"].startswith("Nhập")
