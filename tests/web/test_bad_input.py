"""Bad input of every kind is a 400 (or 404) naming the field, never a 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from webhelp import login, run_client

pytestmark = pytest.mark.db
HUGE = "9" * 25  # above any id column


def _statuses(app, role: str, requests: list[tuple[str, str, object]]) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> list[tuple[int, str]]:
        await login(client, role)
        token = (await (await client.get("/api/v1/session")).json())["csrf_token"]
        out = []
        for method, path, body in requests:
            response = await client.request(method, path, json=body, headers={"X-CSRF-Token": token},
                                            allow_redirects=False)
            out.append((response.status, await response.text()))
        return out
    return run_client(app, scenario)


@pytest.mark.parametrize("path", [
    f"/api/v1/escalations/{HUGE}", f"/api/v1/campaigns/{HUGE}", f"/escalations/{HUGE}", f"/campaigns/{HUGE}",
    f"/contacts/{HUGE}",
    f"/api/v1/escalations/{2**31}", f"/contacts/{2**31}",  # past PostgreSQL's INTEGER: was a 500 there
])
def test_ids_no_row_can_have_are_not_found(make_app, seeded, path: str) -> None:  # type: ignore[no-untyped-def]
    [(status, _)] = _statuses(make_app(), "admin", [("GET", path, None)])
    assert status == 404


@pytest.mark.parametrize("query", [f"page={HUGE}", "page=0", "page=-1", "page=abc"])
def test_a_page_out_of_range_is_a_400_naming_it(make_app, seeded, query: str) -> None:  # type: ignore[no-untyped-def]
    [(api, body), (page, _)] = _statuses(make_app(), "viewer", [("GET", f"/api/v1/escalations?{query}", None),
                                                                 ("GET", f"/escalations?{query}", None)])
    assert api == 400 and '"field": "page"' in body and page == 400


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_report_days_out_of_range_are_refused(make_app, seeded, day: str) -> None:  # type: ignore[no-untyped-def]
    answers = _statuses(make_app(), "viewer", [("GET", f"/api/v1/report?from={day}", None),
                                               ("GET", f"/api/v1/report?to={day}", None),
                                               ("GET", f"/reports?from={day}", None),
                                               ("GET", f"/api/v1/lists/monitoring?as_of={day}", None)])
    assert [s for s, _ in answers] == [400, 400, 400, 400]
    assert '"field": "from"' in answers[0][1] and '"field": "to"' in answers[1][1]


@pytest.mark.parametrize(("body", "field"), [
    ([], "body"), ("acknowledge", "body"), (5, "body"), (None, "body"), ({"action": 5}, "action"),
    ({"action": "delete"}, "action"), ({"action": "note", "text": "x" * 5000}, "text"),
    ({"action": "assign", "assignee": ["a"]}, "assignee"), ({"action": "note", "text": "ok", "extra": 1}, "extra"),
])
def test_action_bodies_that_are_not_the_model_are_a_400_naming_the_field(make_app, seeded, body, field) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    [(status, text)] = _statuses(make_app(), "cdc_staff",
                                 [("POST", f"/api/v1/escalations/{ids['urgent_old']}/actions", body)])
    assert status == 400 and f'"field": "{field}"' in text


def test_a_note_too_long_is_refused_on_the_page_too(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    from webhelp import csrf_of
    _, ids = seeded

    async def scenario(client: TestClient) -> int:
        await login(client, "cdc_staff")
        token = await csrf_of(client, "/escalations")
        response = await client.post(f"/escalations/{ids['urgent_old']}/note",
                                     data={"csrf_token": token, "text": "x" * 5000}, allow_redirects=False)
        return response.status

    assert run_client(make_app(), scenario) in (303, 400)


def test_query_strings_have_a_length_cap(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    [(api, body), (page, _)] = _statuses(make_app(), "viewer", [("GET", "/api/v1/contacts?q=" + "a" * 5000, None),
                                                                 ("GET", "/contacts?q=" + "a" * 5000, None)])
    assert api == 400 and '"field": "q"' in body and page == 400
