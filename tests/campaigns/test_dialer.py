"""The dialer's choices within one tick: caller id by carrier, the window, opt-outs, channels."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import DialLimits, dial_tick, plan_day, record_outcome
from robocall.models import CallAttempt, CallCampaign, CallState, Contact, FollowUp, FollowUpState

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


def test_the_second_number_is_tried_after_the_main_one_fails_and_foreign_numbers_wait_for_the_setting(
        migrated: Engine) -> None:

    with DbSession(migrated) as db:
        for phone, alt, kind in [("+84961000001", "+84912000009", "mobile"), ("+16502530000", "", "foreign")]:
            db.add(Contact(phone=phone, alt_phone=alt, phone_kind=kind, category="F1",
                           exposure_date=DAY - dt.timedelta(days=2), monitoring_end=DAY + dt.timedelta(days=5)))
        db.add(CallCampaign(name="F1", flow="f1_f2_followup", categories="F1"))
        db.commit()
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    [first] = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    with DbSession(migrated) as db:
        attempt = db.get(CallAttempt, first.attempt_id)
        assert attempt is not None and attempt.phone == "+84961000001"  # the main number first
        foreign = db.exec(select(FollowUp).join(Contact, Contact.id == FollowUp.contact_id)
                          .where(Contact.phone_kind == "foreign")).one()
        assert foreign.state == FollowUpState.SKIPPED  # INTERNATIONAL_CALLS is off
        attempt.state, attempt.ended_at = CallState.NO_ANSWER, opens + dt.timedelta(seconds=40)
        db.add(attempt)
        record_outcome(db, attempt, POLICY)
        db.commit()
    later = opens + dt.timedelta(hours=1)
    [second] = dial_tick(migrated, later, later + dt.timedelta(seconds=10), POLICY, LIMITS)
    with DbSession(migrated) as db:
        retry = db.get(CallAttempt, second.attempt_id)
        assert retry is not None and (retry.phone, retry.attempt_number) == ("+84912000009", 2)


def test_foreign_numbers_are_dialled_when_international_calls_are_allowed(migrated: Engine) -> None:
    with DbSession(migrated) as db:
        db.add(Contact(phone="+16502530000", phone_kind="foreign", category="F1",
                       exposure_date=DAY - dt.timedelta(days=2), monitoring_end=DAY + dt.timedelta(days=5)))
        db.add(CallCampaign(name="F1", flow="f1_f2_followup", categories="F1"))
        db.commit()
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    allowed = DialLimits(max_channels=2, calls_per_second=1.0, international_calls=True)
    assert len(dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, allowed)) == 1
