"""A robot callback scheduled from a case is a follow-up of its own: the day's plan still makes the
daily one, the day's close leaves the daily streak alone and closes the callback's task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import CallPolicy
from robocall.campaigns.callbacks import CallbackError, schedule_robot_call
from robocall.campaigns.dialer import DialLimits, close_day, dial_tick, plan_day
from robocall.models import CallAttempt, CallCampaign, CaseTask, Contact, Escalation, FollowUp
from robocall.reports import provincial_report
from robocall.web.line_lists import line_list

DAY = dt.date(2021, 8, 12)
POLICY = CallPolicy()
NINE = dt.datetime(2021, 8, 12, 2, 0, tzinfo=dt.UTC)  # 09:00 in Vietnam


def _case(engine: Engine) -> tuple[int, int]:
    with DbSession(engine) as db:
        db.add(CallCampaign(name="F1", flow="f1_f2_followup", categories="F1"))
        contact = Contact(phone="+84912000009", name="Võ Thị Gấm", category="F1", exposure_date=dt.date(2021, 8, 5),
                          monitoring_end=dt.date(2021, 8, 19))
        db.add(contact)
        db.flush()
        case = Escalation(contact_id=contact.id, rule="de_nghi_goi_lai", level="callback", reason="gọi lại")
        db.add(case)
        db.commit()
        return case.id or 0, contact.id or 0


def test_a_callback_beside_the_daily_follow_up_and_the_day_closing_over_both(migrated: Engine) -> None:
    case_id, contact_id = _case(migrated)
    with DbSession(migrated) as db:
        case = db.get(Escalation, case_id)
        flows = {"f1_f2_followup", "returnee_check"}
        try:
            schedule_robot_call(db, case, "returnee_check", NINE.replace(hour=15), "can_bo", POLICY, flows, NINE)
        except CallbackError as error:  # 22:00 in Vietnam: outside the call window
            assert "khung giờ gọi" in str(error)
        else:
            raise AssertionError("a callback outside the call window was accepted")
        schedule_robot_call(db, case, "returnee_check", NINE, "can_bo", POLICY, flows, NINE)
        db.commit()
    assert plan_day(migrated, DAY, POLICY) == 1  # the daily follow-up is made all the same
    flows_called = []
    for minute in (0, 5):  # one call at once per person: the daily one (due at 07:30) first, then the callback
        at = NINE + dt.timedelta(minutes=minute)
        planned = dial_tick(migrated, at, at + dt.timedelta(minutes=1), POLICY, DialLimits())
        with DbSession(migrated) as db:
            attempt = db.get(CallAttempt, planned[0].attempt_id)
            flows_called.append((attempt.flow, attempt.follow_up_id is not None))
            attempt.state, attempt.ended_at = "no_answer", at + dt.timedelta(seconds=40)
            db.add(attempt)
            db.commit()
    assert flows_called == [("f1_f2_followup", True), ("returnee_check", True)]
    with DbSession(migrated) as db:  # the daily call was answered after all; the callback never was
        daily = db.exec(select(FollowUp).where(FollowUp.contact_id == contact_id, FollowUp.flow == "")).one()
        daily.state = "reached"
        db.add(daily)
        db.commit()
    close_day(migrated, DAY, POLICY, NINE + dt.timedelta(hours=12))
    with DbSession(migrated) as db:
        follow_ups = {f.escalation_id: f for f in db.exec(select(FollowUp).where(FollowUp.contact_id == contact_id))}
        task = db.exec(select(CaseTask)).one()
        non_reporting = line_list(db, "non_reporting", DAY).rows
    assert follow_ups[None].unreachable_streak == 0 and follow_ups[case_id].state == "unreached"
    assert (task.state, task.result) == ("done", "không liên lạc được trong ngày")
    # A missed callback is not a missed daily report: the person reported today.
    report = provincial_report(migrated, DAY, DAY, POLICY.timezone)
    assert (report.contacts_monitored, report.non_reporting_contacts, non_reporting) == (1, 0, [])
