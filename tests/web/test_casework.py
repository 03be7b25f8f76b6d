"""Casework through the JSON API and the forms: assignment to real users, reopen, bulk actions, the
queue's date and "my cases" filters, callbacks scheduled by API, district scopes, SMS campaign controls."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlmodel import Session as DbSession
from sqlmodel import col, select
from webhelp import csrf_of, login, run_client
from webseed import USERS

from robocall.accounts import change_user
from robocall.models import AuditLog, CaseTask, Escalation, EscalationEvent, FollowUp
from robocall.sms_models import SmsCampaign, SmsMessage


async def _api(client: TestClient, case: int, body: object) -> tuple[int, dict]:
    token = (await (await client.get("/api/v1/session")).json())["csrf_token"]
    response = await client.post(f"/api/v1/escalations/{case}/actions", json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()


def test_assign_takes_an_active_user_by_id_or_name_and_refuses_anything_else(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    change_user(engine, USERS["viewer"], active=False)
    case = ids["urgent_new"]

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        await login(client, "cdc_staff")
        return [await _api(client, case, body) for body in (
            {"action": "assign", "assignee": {"a": 1}}, {"action": "assign", "assignee": "không_có"},
            {"action": "assign", "assignee": USERS["viewer"]},  # disabled
            {"action": "assign", "assignee": ids["user_admin"]}, {"action": "assign", "assignee": USERS["cdc_staff"]})]

    answers = run_client(make_app(), scenario)
    assert [status for status, _ in answers] == [400, 400, 400, 200, 200]
    assert answers[0][1]["field"] == "assignee"  # not a name or an id: the request model refuses it
    assert "no active user" in answers[1][1]["error"]
    assert answers[3][1]["event"]["text"] == USERS["admin"]
    with DbSession(engine) as db:
        assert db.get(Escalation, case).assignee == USERS["cdc_staff"]


def test_reopen_bulk_my_cases_and_the_date_filter(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded

    async def scenario(client: TestClient) -> dict[str, object]:
        await login(client, "cdc_staff")
        token = await csrf_of(client, "/escalations")
        bulk = await client.post("/escalations/bulk", data=[
            ("csrf_token", token), ("action", "assign"), ("assignee", USERS["cdc_staff"]),
            ("ids", str(ids["urgent_old"])), ("ids", str(ids["watch"]))], allow_redirects=False)
        mine = await (await client.get(f"/api/v1/escalations?assignee={USERS['cdc_staff']}")).json()
        resolved = await client.post("/escalations/bulk", data=[
            ("csrf_token", token), ("action", "resolve"), ("outcome", "false_alarm"), ("ids", str(ids["watch"]))],
            allow_redirects=False)
        reopened = await client.post(f"/escalations/{ids['watch']}/reopen", data={"csrf_token": token},
                                     allow_redirects=False)
        again = await client.post(f"/escalations/{ids['watch']}/reopen", data={"csrf_token": token})
        future = await (await client.get("/api/v1/escalations?status=all&since=2099-01-01")).json()
        today = await (await client.get("/api/v1/escalations?status=all&until=2099-01-01")).json()
        bad_date = await client.get("/escalations?since=hôm qua")
        return {"bulk": bulk.status, "mine": sorted(r["id"] for r in mine["rows"]), "resolved": resolved.status,
                "reopened": reopened.status, "again": again.status, "future": future["total"],
                "today": today["total"], "bad_date": (bad_date.status, await bad_date.text())}

    got = run_client(make_app(), scenario)
    assert got["bulk"] == 303 and got["mine"] == sorted([ids["urgent_old"], ids["watch"]])
    assert (got["resolved"], got["reopened"], got["again"]) == (303, 303, 400)
    assert got["future"] == 0 and got["today"] == 6
    assert got["bad_date"][0] == 400 and "since" in got["bad_date"][1]
    with DbSession(engine) as db:
        watch = db.get(Escalation, ids["watch"])
        kinds = [e.kind for e in db.exec(select(EscalationEvent).where(EscalationEvent.escalation_id == ids["watch"])
                                         .order_by(col(EscalationEvent.id))).all()]
        bulk_audits = [a for a in db.exec(select(AuditLog)).all() if (a.detail or {}).get("via") == "bulk"]
    assert (watch.status, watch.outcome, watch.resolved_at) == ("acknowledged", "", None)
    assert kinds[-3:] == ["assigned", "resolved", "reopened"]
    assert len(bulk_audits) == 3  # one entry per case acted on


def test_a_robot_callback_by_api_is_a_follow_up_of_the_case_inside_the_call_window(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    case = ids["urgent_old"]

    async def scenario(client: TestClient) -> list[tuple[int, dict]]:
        await login(client, "cdc_staff")
        return [await _api(client, case, body) for body in (
            {"action": "callback", "kind": "robot_call", "flow": "f1_f2_followup", "due": "2099-03-02T23:00"},
            {"action": "callback", "kind": "robot_call", "flow": "hotline", "due": "2099-03-02T09:00"},
            {"action": "callback", "kind": "robot_call", "flow": "f1_f2_followup", "due": "mai"},
            {"action": "callback", "kind": "robot_call", "flow": "f1_f2_followup", "due": "2099-03-02T09:30"})]

    answers = run_client(make_app(), scenario)
    assert [status for status, _ in answers] == [400, 400, 400, 200]
    assert "khung giờ gọi" in answers[0][1]["error"] and "due" in answers[2][1]["error"]
    with DbSession(engine) as db:
        follow_up = db.exec(select(FollowUp).where(FollowUp.escalation_id == case)).one()
        task = db.exec(select(CaseTask).where(CaseTask.follow_up_id == follow_up.id)).one()
    assert (follow_up.contact_id, follow_up.flow, follow_up.state) == (ids["contact_0"], "f1_f2_followup", "pending")
    assert follow_up.next_try_at.hour == 2 and follow_up.next_try_at.minute == 30  # 09:30 in Vietnam, in UTC
    assert task.kind == "robot_call" and answers[3][1]["callback"]["state"] == "pending"

    async def resolve(client: TestClient) -> tuple[int, dict]:
        await login(client, "cdc_staff")
        return await _api(client, case, {"action": "resolve", "outcome": "tested"})

    assert run_client(make_app(), resolve)[0] == 200
    with DbSession(engine) as db:
        follow_up = db.get(FollowUp, follow_up.id)
        tasks = {t.kind: t.state for t in db.exec(select(CaseTask).where(CaseTask.escalation_id == case))}
        kinds = [e.kind for e in db.exec(select(EscalationEvent).where(EscalationEvent.escalation_id == case))]
    # A resolved case calls nobody back: the robot call is off the dialer's list, every callback cancelled.
    assert follow_up.state == "skipped" and follow_up.next_try_at is None
    assert set(tasks.values()) == {"cancelled"}
    assert kinds.count("callback_cancelled") == 3 and kinds[-1] == "resolved"


def test_a_district_officer_is_refused_another_districts_case_on_every_route(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    change_user(engine, USERS["cdc_staff"], districts="Huyện Phú Lộc")
    other, own = ids["urgent_old"], ids["watch"]

    async def scenario(client: TestClient) -> dict[str, int]:
        await login(client, "cdc_staff")
        token = await csrf_of(client, "/escalations")
        statuses = {}
        for name, method, path in [
                ("page", "GET", f"/escalations/{other}"), ("contact", "GET", f"/contacts/{ids['contact_0']}"),
                ("act", "POST", f"/escalations/{other}/acknowledge"), ("reveal", "POST", f"/escalations/{other}/reveal"),
                ("reveal_contact", "POST", f"/contacts/{ids['contact_0']}/reveal"),
                ("edit", "POST", f"/contacts/{ids['contact_0']}/edit"),
                ("unknown_caller", "GET", f"/escalations/{ids['hotline_case']}"),
                ("api", "GET", f"/api/v1/escalations/{other}"), ("own", "GET", f"/escalations/{own}")]:
            response = await client.request(method, path, data={"csrf_token": token, "address": "x"},
                                            headers={"X-CSRF-Token": token}, allow_redirects=False)
            statuses[name] = response.status
        statuses["api_act"] = (await _api(client, other, {"action": "note", "text": "x"}))[0]
        bulk = await client.post("/escalations/bulk", data=[("csrf_token", token), ("action", "acknowledge"),
                                                            ("ids", str(other))])
        statuses["bulk"] = bulk.status
        search = await (await client.get("/api/v1/contacts?q=Nguy")).json()
        statuses["search_rows"] = search["total"]
        # Moving a contact out of one's own districts is refused too.
        statuses["move_out"] = (await client.post(f"/contacts/{ids['contact_3']}/edit", data={
            "csrf_token": token, "district": "Thành phố Huế"})).status
        return statuses

    statuses = run_client(make_app(), scenario)
    assert statuses == {"page": 404, "contact": 404, "act": 404, "reveal": 404, "reveal_contact": 404, "edit": 404,
                        "unknown_caller": 404, "api": 404, "own": 200, "api_act": 404, "bulk": 400,
                        "search_rows": 0, "move_out": 400}
    with DbSession(engine) as db:
        assert db.get(Escalation, other).status == "open"


def test_sms_campaigns_pause_resume_and_cancel_from_the_dashboard_with_the_clis_checks(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    campaign = ids["sms_campaign"]

    async def scenario(client: TestClient) -> list[int]:
        await login(client, "cdc_staff")
        token = await csrf_of(client, f"/sms-campaigns/{campaign}")
        statuses = []
        for control in ("pause", "pause", "resume", "cancel", "resume"):
            response = await client.post(f"/sms-campaigns/{campaign}/{control}", data={"csrf_token": token},
                                         allow_redirects=False)
            statuses.append(response.status)
        return statuses

    # Pausing a paused campaign or resuming a cancelled one is refused, as `robocall sms` refuses it.
    assert run_client(make_app(), scenario) == [303, 400, 303, 303, 400]
    with DbSession(engine) as db:
        assert db.get(SmsCampaign, campaign).status == "cancelled"
        assert not db.exec(select(SmsMessage).where(SmsMessage.campaign_id == campaign,
                                                    SmsMessage.state == "queued")).all()
        actions = [a.action for a in db.exec(select(AuditLog).where(AuditLog.object_type == "sms_campaign")
                                             .order_by(col(AuditLog.id))).all()]
    assert actions == ["sms_campaign_pause", "sms_campaign_pause_refused", "sms_campaign_resume",
                       "sms_campaign_cancel", "sms_campaign_resume_refused"]


def test_the_live_queue_tells_a_district_officer_only_of_their_districts_cases(seeded) -> None:  # type: ignore[no-untyped-def]
    from robocall.web.escalation_queries import latest_change
    from robocall.web.scope import Scope

    engine, ids = seeded
    with DbSession(engine) as db:
        province, phu_loc = latest_change(db), latest_change(db, Scope.parse("Huyện Phú Lộc"))
        newest_event = db.exec(select(EscalationEvent.id).where(EscalationEvent.escalation_id == ids["home_visit"])
                               .order_by(col(EscalationEvent.id).desc())).first()
    assert province[0] == ids["hotline_case"]  # the newest case is the unknown caller's: the province's alone
    assert phu_loc == (max(ids["watch"], ids["home_visit"]), newest_event)


def test_a_case_from_a_caller_on_no_list_shows_the_calling_number_masked_and_reveals_it(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    case = ids["hotline_case"]

    async def scenario(client: TestClient) -> tuple[dict, dict, dict]:
        await login(client, "cdc_staff")
        body = await (await client.get(f"/api/v1/escalations/{case}")).json()
        queue = await (await client.get("/api/v1/escalations")).json()
        token = await csrf_of(client, f"/escalations/{case}")
        revealed = await (await client.post(f"/escalations/{case}/reveal", headers={"X-CSRF-Token": token})).json()
        return body, next(r for r in queue["rows"] if r["id"] == case), revealed

    body, row, revealed = run_client(make_app(), scenario)
    assert body["escalation"]["phone_masked"] == row["phone_masked"] == "+849******11"
    assert body["contact"] is None and revealed == {"phone": "+84987000111"}
    with DbSession(engine) as db:
        entry = db.exec(select(AuditLog).where(AuditLog.action == "reveal_phone")).one()
    assert (entry.object_type, entry.object_id, entry.actor) == ("escalation", str(case), USERS["cdc_staff"])
