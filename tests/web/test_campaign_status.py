"""A campaign's status and per-day series through the API: the real status (finished once nobody is
left to monitor and no follow-up is open), and every day of the period, zeros included."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import Session as DbSession
from webhelp import login, run_client
from webseed import DAY1

from robocall.models import CallAttempt, Contact, FollowUp, FollowUpState


def _campaign(make_app, campaign_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> dict[str, Any]:
        await login(client, "viewer")
        response = await client.get(f"/api/v1/campaigns/{campaign_id}")
        assert response.status == 200
        listed = await (await client.get("/api/v1/campaigns")).json()
        body: dict[str, Any] = await response.json()
        assert [c["status"] for c in listed["campaigns"]] == [body["status"]]
        return body
    return run_client(make_app(), scenario)  # type: ignore[no-any-return]


def test_every_day_of_the_period_is_in_both_series(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    with DbSession(engine) as db:  # a call on 15/08 raising nothing; nobody called on 14/08
        at = dt.datetime.combine(DAY1 + dt.timedelta(days=4), dt.time(2, 0), dt.UTC)
        db.add(CallAttempt(campaign_id=ids["campaign"], contact_id=ids["contact_1"], phone="+84912000002",
                           flow="f1_f2_followup", day=at.date(), state="completed", queued_at=at, answered_at=at))
        db.commit()
    body = _campaign(make_app, ids["campaign"])
    days = [(DAY1 + dt.timedelta(days=i)).isoformat() for i in range(5)]
    assert [d["day"] for d in body["calls_per_day"]] == days
    assert [d["day"] for d in body["escalations_per_day"]] == days
    assert [d["attempts"] for d in body["calls_per_day"]][3:] == [0, 1]
    assert [d["escalations"] for d in body["escalations_per_day"]][3:] == [0, 0]


def test_a_campaign_is_finished_when_nobody_is_left_to_call(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    assert _campaign(make_app, ids["campaign"])["status"] == "finished"  # monitoring ended in 2021
    with DbSession(engine) as db:  # a follow-up still open: not over
        db.add(FollowUp(campaign_id=ids["campaign"], contact_id=ids["contact_0"], day=DAY1 + dt.timedelta(days=3),
                        state=FollowUpState.PENDING))
        db.commit()
    assert _campaign(make_app, ids["campaign"])["status"] == "active"
    with DbSession(engine) as db:  # settled, but someone is monitored until next month: still active
        for follow_up in db.query(FollowUp).where(FollowUp.state == FollowUpState.PENDING):
            follow_up.state = FollowUpState.REACHED
        contact = db.get(Contact, ids["contact_2"])
        assert contact is not None
        contact.monitoring_end = dt.date.today() + dt.timedelta(days=30)
        db.add(contact)
        db.commit()
    assert _campaign(make_app, ids["campaign"])["status"] == "active"
