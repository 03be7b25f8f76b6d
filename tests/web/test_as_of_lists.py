"""A line list as of a day is what was recorded by the end of that day (robocall/web/line_lists.py): a case
raised, resolved and reopened; an opt-out; the last call; each read on the days around them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.models import CallAttempt, CallCampaign, Contact, Escalation, EscalationEvent, EscalationStatus
from robocall.web.line_lists import line_list

pytestmark = pytest.mark.db
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
D = [dt.date(2021, 8, 10) + dt.timedelta(days=i) for i in range(6)]  # D[1]..D[5]: the days of the story


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ).astimezone(dt.UTC)


def _names(engine: Engine, kind: str, day: dt.date) -> list[str]:
    with DbSession(engine) as db:
        return [r.name for r in line_list(db, kind, day, tz=TZ).rows]


def test_lists_as_of_past_days_show_what_was_true_then(migrated: Engine) -> None:
    with DbSession(migrated) as db:
        ill = Contact(phone="+84912000001", name="Ốm", district="Huế", monitoring_end=D[5] + dt.timedelta(days=9))
        no = Contact(phone="+84912000002", name="Từ chối", district="Huế", monitoring_end=D[5] + dt.timedelta(days=9),
                     opted_out=True, opted_out_at=_at(D[3], 23))  # 23:00 local on D3: still D3 there (16:00 UTC)
        db.add_all([ill, no, CallCampaign(name="c", flow="f1_f2_followup", categories="F1")])
        db.flush()
        # Raised on D2 at 06:00 local (the day before in UTC), resolved on D4, reopened on D5.
        case = Escalation(contact_id=ill.id, rule="co_trieu_chung", level="watch", reason="sốt",
                          status=EscalationStatus.ACKNOWLEDGED, created_at=_at(D[2], 6))
        db.add(case)
        db.flush()
        db.add_all([EscalationEvent(escalation_id=case.id or 0, at=_at(D[2], 6), kind="created"),
                    EscalationEvent(escalation_id=case.id or 0, at=_at(D[4], 9), kind="resolved"),
                    EscalationEvent(escalation_id=case.id or 0, at=_at(D[5], 8), kind="reopened")])
        for day, state in ((D[2], "completed"), (D[4], "busy")):
            db.add(CallAttempt(contact_id=ill.id, phone=ill.phone, flow="f1_f2_followup", day=day, state=state,
                               queued_at=_at(day, 8)))
        db.commit()

    assert [_names(migrated, "symptomatic", d) for d in D[1:]] == [[], ["Ốm"], ["Ốm"], [], ["Ốm"]]
    # The opt-out of D3 is not on the closed list before D3; before it the person was under monitoring.
    assert [_names(migrated, "closed", d) for d in D[1:]] == [[], [], ["Từ chối"], ["Từ chối"], ["Từ chối"]]
    assert [sorted(_names(migrated, "monitoring", d)) for d in D[1:]] == [sorted(["Từ chối", "Ốm"])] * 2 + [["Ốm"]] * 3
    with DbSession(migrated) as db:
        [on_d3] = line_list(db, "symptomatic", D[3], tz=TZ).rows
        [on_d5] = line_list(db, "symptomatic", D[5], tz=TZ).rows
        on_d4 = {r.name: r for r in line_list(db, "monitoring", D[4], tz=TZ).rows}["Ốm"]
    assert (on_d3.last_call_day, on_d3.last_call_state, on_d3.open_cases) == (D[2], "completed", 1)
    assert (on_d5.last_call_day, on_d5.last_call_state, on_d5.open_cases) == (D[4], "busy", 1)
    assert on_d4.open_cases == 0  # resolved that day


def test_a_case_still_resolved_counts_from_its_resolution_without_a_timeline(migrated: Engine) -> None:
    with DbSession(migrated) as db:
        person = Contact(phone="+84912000003", name="Cũ", monitoring_end=D[5])
        db.add(person)
        db.flush()
        db.add(Escalation(contact_id=person.id, rule="trieu_chung_nang", level="urgent", reason="khó thở",
                          status=EscalationStatus.RESOLVED, created_at=_at(D[1], 10), resolved_at=_at(D[3], 10)))
        db.commit()
    assert [_names(migrated, "symptomatic", d) for d in D[1:]] == [["Cũ"], ["Cũ"], [], [], []]
