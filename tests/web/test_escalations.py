"""The queue (filters, SLA colours, live updates), the detail page, the actions and their audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from aiohttp.test_utils import TestClient
from sqlmodel import Session as DbSession
from sqlmodel import col, select
from webhelp import csrf_of, login, run_client
from webseed import USERS

from robocall.config import Settings
from robocall.models import AuditLog, Escalation, EscalationEvent, utcnow
from robocall.web.escalation_queries import sla_state

ROW = re.compile(r'<tr class="esc" data-id="(\d+)"')


def test_sla_colour_turns_red_when_an_urgent_case_waits_past_its_limit() -> None:
    settings = Settings(escalation_sla="urgent=30,default=600")
    assert settings.sla_minutes("urgent") == 30 and settings.sla_minutes("other") == 600
    assert [sla_state("open", m, 30) for m in (0, 14, 15, 29, 30, 500)] == ["green"] * 2 + ["amber"] * 2 + ["red"] * 2
    assert sla_state("acknowledged", 500, 30) == "ok"


def test_queue_lists_unresolved_cases_most_urgent_first_with_filters(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded

    async def scenario(client: TestClient) -> dict[str, list[int]]:
        await login(client, "viewer")
        found = {}
        for name, query in {"default": "", "urgent": "level=urgent", "newest": "level=urgent&sort=newest",
                            "phu_loc": "district=Huyện Phú Lộc", "f2": "category=F2", "all": "status=all",
                            "resolved": "status=resolved", "commune": "commune=Vĩnh Ninh"}.items():
            html = await (await client.get(f"/escalations?{query}")).text()
            found[name] = [int(i) for i in ROW.findall(html)]
        html = await (await client.get("/escalations")).text()
        # The 45-minute-old urgent case is past its 30 minutes: red; the 5-minute one is green.
        assert re.search(rf'data-id="{ids["urgent_old"]}".*?sla-red', html, re.S)
        assert re.search(rf'data-id="{ids["urgent_new"]}".*?sla-green', html, re.S)
        assert "+84912000001" not in html and "+849******01" in html  # masked
        # The summary: 2 urgent (1 past its 30 minutes), the hotline caller's callback, 1 watch (acknowledged),
        # 1 home visit (100 of 720 min).
        summary = re.findall(r'data-level="(\w+)">\s*<span[^>]*>[^<]+</span> <b>(\d+)</b>\s*(?:<span[^>]*>(\d+))?',
                             html)
        assert summary == [("urgent", "2", "1"), ("callback", "1", ""), ("watch", "1", ""), ("home_visit", "1", "")]
        return found

    found = run_client(make_app(), scenario)
    assert found["default"] == [ids["urgent_old"], ids["urgent_new"], ids["hotline_case"], ids["watch"],
                                ids["home_visit"]]
    assert found["urgent"] == [ids["urgent_old"], ids["urgent_new"]]
    assert found["newest"] == [ids["urgent_new"], ids["urgent_old"]]
    assert found["phu_loc"] == [ids["watch"], ids["home_visit"]]
    assert found["f2"] == [ids["watch"]]
    assert sorted(found["all"]) == sorted(ids[k] for k in ("urgent_old", "urgent_new", "watch", "home_visit",
                                                             "callback_done", "hotline_case"))
    assert found["resolved"] == [ids["callback_done"]]
    assert found["commune"] == [ids["urgent_new"]]


def test_detail_shows_calls_answers_and_timeline_and_is_audited(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded

    async def scenario(client: TestClient) -> str:
        await login(client, "viewer")
        return await (await client.get(f"/escalations/{ids['urgent_old']}")).text()

    html = run_client(make_app(), scenario)
    assert "Nguyễn Văn An" in html and "+849******01" in html and "+84912000001" not in html
    assert "trieu_chung_nang" in html and "Sốt: <b>✔</b>" in html and "Nhiệt độ: <b>38,6</b>" in html
    assert html.count("<h3>") >= 3  # calls grouped by day
    assert 'class="ev-created"' in html
    # The rule's condition, from the loaded flow.
    assert "shortness_of_breath or temperature &gt;= 38.0" in html
    assert "btn-acknowledge" not in html  # a viewer gets no action buttons
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "view_escalation")).one()
    assert (entry.actor, entry.object_id, entry.detail["contact_id"]) == (USERS["viewer"], str(ids["urgent_old"]),
                                                                         ids["contact_0"])


def test_acknowledge_assign_note_callback_resolve_write_the_timeline_and_the_audit(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    case = ids["urgent_old"]

    async def scenario(client: TestClient) -> None:
        await login(client, "cdc_staff")
        for action, form in [("acknowledge", {}), ("assign", {"assignee": "can_bo"}), ("note", {"text": "Đã gọi"}),
                             ("callback", {"kind": "staff_call", "due": "2099-01-01T09:00"}), ("resolve", {"outcome": "hospital", "text": "BV Trung ương"})]:
            token = await csrf_of(client, f"/escalations/{case}")
            response = await client.post(f"/escalations/{case}/{action}", data={"csrf_token": token, **form},
                                         allow_redirects=False)
            assert response.status == 303, (action, await response.text())
        # Resolved: acting again is refused; the queue no longer lists it.
        token = await csrf_of(client, f"/escalations/{case}")
        assert (await client.post(f"/escalations/{case}/acknowledge", data={"csrf_token": token})).status == 400
        html = await (await client.get("/escalations")).text()
        assert case not in [int(i) for i in ROW.findall(html)]

    run_client(make_app(), scenario)
    with DbSession(engine) as db:
        escalation = db.get(Escalation, case)
        events = db.exec(select(EscalationEvent).where(EscalationEvent.escalation_id == case)
                         .order_by(col(EscalationEvent.id))).all()
        audits = [a.action for a in db.exec(select(AuditLog).where(AuditLog.object_id == str(case))).all()]
    assert escalation is not None
    assert (escalation.status, escalation.outcome, escalation.assignee, escalation.callback) == (
        "resolved", "hospital", "can_bo", True)
    assert escalation.acknowledged_at is not None and escalation.resolved_at is not None
    assert [(e.kind, e.actor) for e in events][1:] == [(k, USERS["cdc_staff"]) for k in (
        "acknowledged", "assigned", "note", "scheduled_staff_call", *["callback_cancelled"] * 3, "resolved")]
    assert events[-1].text == "hospital: BV Trung ương"
    for action in ("acknowledge", "assign", "note", "callback", "resolve", "acknowledge_refused"):
        assert f"escalation_{action}" in audits


def test_resolve_needs_a_known_outcome(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded

    async def scenario(client: TestClient) -> int:
        await login(client, "cdc_staff")
        token = await csrf_of(client, "/escalations")
        return (await client.post(f"/escalations/{ids['urgent_new']}/resolve",
                                  data={"csrf_token": token, "outcome": "made_up"})).status

    assert run_client(make_app(), scenario) == 400


def test_phone_reveal_returns_the_number_and_is_audited(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded

    async def scenario(client: TestClient) -> dict:
        await login(client, "cdc_staff")
        token = await csrf_of(client, "/escalations")
        response = await client.post(f"/contacts/{ids['contact_1']}/reveal", headers={"X-CSRF-Token": token})
        return await response.json()

    assert run_client(make_app(), scenario) == {"phone": "+84912000002"}
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "reveal_phone")).one()
    assert (entry.actor, entry.object_type, entry.object_id) == (USERS["cdc_staff"], "contact", str(ids["contact_1"]))


def test_the_event_stream_announces_a_new_escalation(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded

    async def scenario(client: TestClient) -> list[str]:
        await login(client, "viewer")
        response = await client.get("/escalations/stream")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines: list[str] = []

        async def read_until(event: str) -> None:
            while f"event: {event}" not in lines:
                lines.append((await response.content.readline()).decode().strip())

        await asyncio.wait_for(read_until("hello"), 5)
        with DbSession(engine) as db:
            db.add(Escalation(contact_id=ids["contact_3"], rule="trieu_chung_nang", level="urgent", reason="x",
                              created_at=utcnow() - dt.timedelta(seconds=1)))
            db.commit()
        await asyncio.wait_for(read_until("escalation"), 5)
        lines.append((await response.content.readline()).decode().strip())  # its data line
        response.close()
        return lines

    lines = run_client(make_app(), scenario)
    data = [line for line in lines if line.startswith("data:")][-1]
    assert '"new_since"' in data and "+849" not in data  # ids only, no personal data
