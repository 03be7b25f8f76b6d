"""The dialer's choices within one tick: caller id by carrier, the window, opt-outs, channels."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import DialLimits, dial_tick, plan_day
from robocall.models import CallAttempt, CallCampaign, Contact, FollowUp, FollowUpState

DAY = dt.date(2021, 8, 11)
POLICY = CallPolicy()
LIMITS = DialLimits(max_channels=2, calls_per_second=1.0,
                    caller_ids=(("Viettel", "02343822001"), ("", "02343822000")))


def setup(engine: Engine) -> None:
    with DbSession(engine) as db:
        for phone, carrier, opted_out in [("+84961000001", "Viettel", False), ("+84912000002", "Vinaphone", False),
                                          ("+84912000003", "Vinaphone", False), ("+84912000004", "", True)]:
            db.add(Contact(phone=phone, category="F1", carrier=carrier, opted_out=opted_out,
                           exposure_date=DAY - dt.timedelta(days=2), monitoring_end=DAY + dt.timedelta(days=5)))
        db.add(CallCampaign(name="F1", flow="f1_f2_followup", categories="F1"))
        db.commit()


def test_one_tick_fills_the_channels_at_the_pace_with_the_carriers_caller_id(migrated: Engine) -> None:
    setup(migrated)
    assert plan_day(migrated, DAY, POLICY) == 3  # the opted-out contact gets no follow-up
    assert plan_day(migrated, DAY, POLICY) == 0  # planning twice creates nothing new
    opens = POLICY.window_opens(DAY)
    planned = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    assert [p.start_at for p in planned] == [opens, opens + dt.timedelta(seconds=1)]  # 2 channels, 1 call/s
    with DbSession(migrated) as db:
        attempts = db.exec(select(CallAttempt).order_by(CallAttempt.id)).all()
        by_phone = {a.phone: a.caller_id for a in attempts}
        waiting = db.exec(select(FollowUp).where(FollowUp.state == FollowUpState.PENDING)).all()
    assert by_phone == {"+84961000001": "02343822001", "+84912000002": "02343822000"}
    assert len(waiting) == 1
    # both channels are busy: a second tick at the same moment starts nothing
    assert dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS) == []


def test_nothing_is_dialled_outside_the_window(migrated: Engine) -> None:
    setup(migrated)
    plan_day(migrated, DAY, POLICY)
    before = POLICY.window_opens(DAY) - dt.timedelta(minutes=5)
    assert dial_tick(migrated, before, before + dt.timedelta(minutes=4), POLICY, LIMITS) == []
    closing = POLICY.window_closes(DAY) - dt.timedelta(seconds=1)
    planned = dial_tick(migrated, closing, closing + dt.timedelta(minutes=10), POLICY, LIMITS)
    assert [p.start_at for p in planned] == [closing]  # the pace would put the second past the close


def test_a_contact_who_opts_out_after_planning_is_skipped(migrated: Engine) -> None:
    setup(migrated)
    plan_day(migrated, DAY, POLICY)
    with DbSession(migrated) as db:
        contact = db.exec(select(Contact).where(Contact.phone == "+84961000001")).one()
        contact.opted_out = True
        db.add(contact)
        db.commit()
    opens = POLICY.window_opens(DAY)
    planned = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    with DbSession(migrated) as db:
        phones = {db.get(CallAttempt, p.attempt_id).phone for p in planned}
        skipped = db.exec(select(FollowUp).where(FollowUp.state == FollowUpState.SKIPPED)).all()
    assert "+84961000001" not in phones and len(skipped) == 1
