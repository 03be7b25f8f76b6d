"""The provincial report counts from the database, by category, direction, day and level."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.cli import cli
from robocall.models import (
    CallAttempt,
    CallCampaign,
    CallState,
    Contact,
    Escalation,
    FollowUp,
    FollowUpState,
)
from robocall.reports import provincial_report

UTC = dt.UTC
# 09:00 local on 11 and 12 August 2021 (UTC+7)
DAY1 = dt.datetime(2021, 8, 11, 2, 0, tzinfo=UTC)
DAY2 = dt.datetime(2021, 8, 12, 2, 0, tzinfo=UTC)


def build(engine: Engine) -> None:
    with DbSession(engine) as db:
        f1 = Contact(phone="+84912000001", category="F1")
        f2 = Contact(phone="+84912000002", category="F2")
        back = Contact(phone="+84912000003", category="returnee")
        campaign = CallCampaign(name="c", flow="f1_f2_followup", categories="F1,F2,returnee")
        db.add_all([f1, f2, back, campaign])
        db.flush()

        def call(contact: Contact | None, at: dt.datetime, state: str, reason: str = "", direction: str = "outbound",
                 answered: bool = False) -> CallAttempt:
            attempt = CallAttempt(contact_id=contact.id if contact else None, flow="f1_f2_followup", day=at.date(),
                                  direction=direction, state=state, queued_at=at, dialled_at=at,
                                  answered_at=at if answered else None, ended_at=at + dt.timedelta(minutes=2),
                                  end_reason=reason)
            db.add(attempt)
            db.flush()
            return attempt

        call(f1, DAY1, CallState.BUSY)
        urgent_call = call(f1, DAY1 + dt.timedelta(minutes=20), CallState.COMPLETED, "completed", answered=True)
        call(f2, DAY1, CallState.COMPLETED, "caller_hangup", answered=True)
        call(back, DAY1, CallState.NO_ANSWER)
        call(back, DAY2, CallState.COMPLETED, "completed", answered=True)
        call(None, DAY2, CallState.COMPLETED, "completed", direction="inbound", answered=True)
        db.add(Escalation(contact_id=f1.id, attempt_id=urgent_call.id, rule="r", level="urgent", reason="x",
                          created_at=DAY1))
        db.add(Escalation(contact_id=back.id, rule="unreachable_2_days", level="home_visit", reason="x",
                          created_at=DAY2))
        db.add(Escalation(contact_id=back.id, rule="t", level="test", reason="x", notify_cdc=False, callback=True,
                          created_at=DAY2))
        db.add(FollowUp(campaign_id=campaign.id, contact_id=back.id, day=DAY1.date(), state=FollowUpState.UNREACHED))
        db.add(FollowUp(campaign_id=campaign.id, contact_id=f1.id, day=DAY1.date(), state=FollowUpState.REACHED))
        db.commit()


def test_report_over_all_days(migrated: Engine) -> None:
    build(migrated)
    report = provincial_report(migrated, None, None, "Asia/Ho_Chi_Minh")
    assert (report.outbound_calls_f1_f2, report.outbound_calls_returnees, report.inbound_hotline_calls) == (3, 2, 1)
    assert (report.calls_answered, report.calls_completed) == (4, 3)
    assert (report.contacts_called, report.contacts_monitored, report.non_reporting_contacts) == (3, 2, 1)
    assert report.escalations_by_level == {"home_visit": 1, "test": 1, "urgent": 1}
    assert list(report.escalations_by_level) == ["urgent", "test", "home_visit"]  # by urgency, not by name
    assert report.escalations_to_cdc == 2
    assert report.calls_escalated == 1  # the home visit and the test were raised without a call


def test_report_for_one_day_and_the_cli(migrated: Engine) -> None:
    build(migrated)
    report = provincial_report(migrated, dt.date(2021, 8, 12), dt.date(2021, 8, 12), "Asia/Ho_Chi_Minh")
    assert (report.outbound_calls_f1_f2, report.outbound_calls_returnees, report.inbound_hotline_calls) == (0, 1, 1)
    assert report.escalations_by_level == {"home_visit": 1, "test": 1}
    result = CliRunner().invoke(cli, ["report", "--from", "2021-08-11", "--to", "11/08/2021", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["outbound_calls_f1_f2"] == 3 and figures["escalations_by_level"] == {"urgent": 1}
    text = CliRunner().invoke(cli, ["report"]).output
    assert "Cuộc gọi tự động tới F1/F2" in text and "Khẩn cấp" in text and "urgent" not in text  # levels by their Vietnamese names
    assert "Tỷ lệ cuộc gọi dẫn tới phân loại" in text and "16,7%" in text  # 1 of 6 calls


def test_the_cli_report_of_a_district_in_english(migrated: Engine) -> None:
    build(migrated)  # nobody of the build lives in a district: a district's report counts none of them
    text = CliRunner().invoke(cli, ["report", "--lang", "en", "--district", "Huyện Phú Lộc"]).output
    assert text.startswith("AUTOMATED CALL SYSTEM REPORT") and "Districts: Huyện Phú Lộc" in text
    calls = next(line for line in text.splitlines() if "Robot calls to F1/F2" in line)
    assert calls.split()[-1] == "0" and "Urgent" not in text
    whole = CliRunner().invoke(cli, ["report", "--lang", "en", "--json"]).output
    assert json.loads(whole)["outbound_calls_f1_f2"] == 3 and json.loads(whole)["districts"] == []
