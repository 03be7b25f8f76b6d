"""Fourteen virtual days of follow-up through real Redis, RQ workers and the database.

The checks are oracles that must hold whatever the simulated residents do:
calls only inside the window and the monitoring period, retries exactly on
the ladder, never more than the daily cap, nothing after an answer or an
opt-out, escalations exactly those the flow's rules give for the recorded
answers, home visits exactly after the configured unreachable streak, and
never two calls to one person at once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import policy_from_settings
from robocall.config import get_settings
from robocall.flows.expressions import evaluate
from robocall.flows.loader import load_flows
from robocall.models import (
    Answer,
    CallAttempt,
    CallCampaign,
    CallState,
    Contact,
    Escalation,
    EscalationEvent,
    FollowUp,
    FollowUpState,
)
from robocall.queues import DIALER, queue, redis_connection
from simulator.clock import run_day

FIRST_DAY = dt.date(2021, 8, 11)
DAYS = 14


def seed_contacts(engine: Engine, count: int) -> None:
    policy = policy_from_settings(get_settings())
    categories = ["F1", "F2", "returnee"]
    with DbSession(engine) as db:
        for i in range(count):
            category = categories[i % 3]
            exposure = dt.date(2021, 8, 1) + dt.timedelta(days=i % 10)
            db.add(Contact(phone=f"+8491{i:07d}", name=f"Người thử {i}", category=category,
                           district="Thành phố Huế", commune="Phú Hội", exposure_date=exposure,
                           monitoring_end=policy.monitoring_end(category, exposure)))
        db.add(CallCampaign(name="F1/F2", flow="f1_f2_followup", categories="F1,F2"))
        db.add(CallCampaign(name="Người về", flow="returnee_check", categories="returnee"))
        db.commit()


def run_days(engine: Engine, days: int, before_day=None) -> None:  # type: ignore[no-untyped-def]
    policy = policy_from_settings(get_settings())
    connection = redis_connection()
    for offset in range(days):
        day = FIRST_DAY + dt.timedelta(days=offset)
        if before_day:
            before_day(day)
        run_day(engine, connection, queue(DIALER, connection), day, policy)


@pytest.mark.timeout(600)
def test_fourteen_days_with_four_workers(migrated: Engine, start_workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAX_CHANNELS", "10")
    monkeypatch.setenv("CALLS_PER_SECOND", "2")
    # The outbreak mix: 45 people in a province's calm would raise too few cases to see rules fire again.
    monkeypatch.setenv("SIM_PROFILE", "outbreak")
    start_workers(4, MAX_CHANNELS="10", CALLS_PER_SECOND="2", SIM_PROFILE="outbreak")
    seed_contacts(migrated, 45)
    opted_out_phone, opt_out_day = "+84910000004", FIRST_DAY + dt.timedelta(days=3)

    def before_day(day: dt.date) -> None:
        if day == opt_out_day:
            with DbSession(migrated) as db:
                contact = db.exec(select(Contact).where(Contact.phone == opted_out_phone)).one()
                contact.opted_out = True
                db.add(contact)
                db.commit()

    run_days(migrated, DAYS, before_day)
    settings = get_settings()
    policy = policy_from_settings(settings)
    flows, _ = load_flows([settings.flows_dir])

    with DbSession(migrated) as db:
        contacts = {c.id: c for c in db.exec(select(Contact)).all()}
        attempts = db.exec(select(CallAttempt).order_by(CallAttempt.id)).all()
        answers = db.exec(select(Answer)).all()
        escalations = db.exec(select(Escalation)).all()
        events = db.exec(select(EscalationEvent)).all()
        follow_ups = db.exec(select(FollowUp)).all()

    assert len(attempts) > 45 * 5
    by_contact_day: dict[tuple[int, dt.date], list[CallAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_contact_day[(attempt.contact_id, attempt.day)].append(attempt)
        assert attempt.state not in ("queued", "dialling", "ringing", "answered"), "every call finished"

    retries_seen = 0
    for (contact_id, day), day_attempts in by_contact_day.items():
        contact = contacts[contact_id]
        # the monitoring period and opt-outs
        assert contact.exposure_date < day <= contact.monitoring_end
        if contact.phone == opted_out_phone:
            assert day < opt_out_day
        # the daily cap, and nothing after an answer
        assert len(day_attempts) <= policy.daily_attempt_cap
        assert [a.attempt_number for a in day_attempts] == list(range(1, len(day_attempts) + 1))
        assert all(a.answered_at is None for a in day_attempts[:-1])
        for attempt in day_attempts:
            start = attempt.dialled_at
            assert policy.in_window(start), f"call at {start} outside the window"
            assert policy.local_day(start) == day
        # retries exactly on the ladder (channels and pace permitting: within a few seconds)
        for previous, current in zip(day_attempts, day_attempts[1:]):
            retries_seen += 1
            wait = policy.retry_ladder[min(previous.attempt_number - 1, len(policy.retry_ladder) - 1)]
            delay = current.dialled_at - (previous.ended_at + wait)
            assert dt.timedelta(0) <= delay < dt.timedelta(seconds=30), (previous, current)
        # a day with an unanswered last attempt stopped only for the cap or the window
        last = day_attempts[-1]
        if last.answered_at is None and len(day_attempts) < policy.daily_attempt_cap:
            nxt = policy.next_try(CallState(last.state), last.attempt_number, last.ended_at)
            assert nxt is None, f"contact {contact_id} on {day}: a retry at {nxt} was due but never made"
    assert retries_seen > 10

    # every contact monitored on a day (and not opted out) had a follow-up and at least one call that day
    for contact in contacts.values():
        for offset in range(DAYS):
            day = FIRST_DAY + dt.timedelta(days=offset)
            due = contact.exposure_date < day <= contact.monitoring_end
            if contact.phone == opted_out_phone and day >= opt_out_day:
                due = False
            assert ((contact.id, day) in by_contact_day) == due, (contact.phone, day)

    # never two calls to one contact at once
    for contact_id in contacts:
        spans = sorted((a.dialled_at, a.ended_at) for a in attempts if a.contact_id == contact_id)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end
    # never more calls at once than channels
    edges = sorted([(a.dialled_at, 1) for a in attempts] + [(a.ended_at, -1) for a in attempts],
                   key=lambda e: (e[0], e[1]))
    busy = peak = 0
    for _, change in edges:
        busy += change
        peak = max(peak, busy)
    assert peak <= 10
    # the pace: consecutive outbound starts at least 1/CALLS_PER_SECOND apart
    starts = sorted(a.dialled_at for a in attempts)
    assert min(b - a for a, b in zip(starts, starts[1:])) >= dt.timedelta(seconds=0.5)

    # escalations are exactly what each flow's rules give for the answers recorded on that call
    answers_by_attempt: dict[int, dict[str, object]] = defaultdict(dict)
    for answer in answers:
        answers_by_attempt[answer.attempt_id][answer.question] = answer.value
    # a rule that fires on a later call joins the person's open case for that rule as an "again" event
    cases = {e.id: e for e in escalations}
    call_escalations: dict[int, set[str]] = defaultdict(set)
    for event in events:
        if event.attempt_id is not None:
            assert event.kind in ("created", "again")
            call_escalations[event.attempt_id].add(cases[event.escalation_id].rule)
    for escalation in escalations:
        if escalation.level != "home_visit":
            per_case = [e for e in events if e.escalation_id == escalation.id and e.kind == "created"]
            assert len(per_case) == 1 and per_case[0].attempt_id == escalation.attempt_id
    open_cases = [(e.contact_id, e.rule) for e in escalations if e.level != "home_visit"]
    assert len(open_cases) == len(set(open_cases)), "one open case per person and rule"
    assert any(e.kind == "again" for e in events)
    for attempt in attempts:
        if attempt.answered_at is None:
            assert attempt.id not in answers_by_attempt
            continue
        flow = flows[attempt.flow]
        values = {name: answers_by_attempt[attempt.id].get(name) for name in flow.answers}
        values.update(attempt.session["fields"])
        expected, fired_levels = set(), set()
        for index, rule in enumerate(flow.spec.escalations):
            if any(level in fired_levels for level in rule.unless):
                continue
            if evaluate(rule.when, values):
                expected.add(flow.rule_name(index))
                fired_levels.add(rule.level)
        assert call_escalations[attempt.id] == expected, attempt.id
    assert any(e.level == "urgent" for e in escalations)
    assert any(e.level == "watch" for e in escalations)

    # home visits: exactly when a contact reaches the unreachable streak
    streak_hits = {(f.contact_id, f.day) for f in follow_ups
                   if f.unreachable_streak == policy.unreachable_days_to_escalate}
    home_visits = [e for e in escalations if e.level == "home_visit"]
    assert len(home_visits) == len(streak_hits)
    assert {e.contact_id for e in home_visits} == {c for c, _ in streak_hits}
    for follow_up in follow_ups:
        assert follow_up.state in (FollowUpState.REACHED, FollowUpState.UNREACHED, FollowUpState.SKIPPED)
        reached = any(a.answered_at for a in by_contact_day[(follow_up.contact_id, follow_up.day)])
        assert (follow_up.state == FollowUpState.REACHED) == reached


def test_the_database_refuses_a_second_active_call_to_one_contact(migrated: Engine) -> None:
    seed_contacts(migrated, 1)
    with DbSession(migrated) as db:
        db.add(CallAttempt(contact_id=1, flow="f1_f2_followup", day=FIRST_DAY, state=CallState.QUEUED))
        db.commit()
        db.add(CallAttempt(contact_id=1, flow="f1_f2_followup", day=FIRST_DAY, state=CallState.RINGING))
        with pytest.raises(IntegrityError):
            db.commit()
        db.rollback()
        # a finished call does not block the next one
        db.add(CallAttempt(contact_id=1, flow="f1_f2_followup", day=FIRST_DAY, state=CallState.BUSY))
        db.commit()


def test_racing_dialers_never_start_two_calls_to_one_contact(migrated: Engine) -> None:
    """Four dialers tick at the same moment against one database: each contact gets one call."""
    import threading

    from robocall.campaigns.dialer import DialLimits, dial_tick, plan_day

    seed_contacts(migrated, 30)
    policy = policy_from_settings(get_settings())
    planned = plan_day(migrated, FIRST_DAY, policy)
    now = policy.window_opens(FIRST_DAY)
    results: list[list] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def dialer() -> None:
        try:
            barrier.wait()
            results.append(dial_tick(migrated, now, now + dt.timedelta(seconds=30), policy,
                                     DialLimits(max_channels=100, calls_per_second=1000)))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=dialer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    locked = [e for e in errors if "locked" in str(e)]
    assert errors == locked, errors  # SQLite may make a loser wait too long; nothing else may fail
    with DbSession(migrated) as db:
        attempts = db.exec(select(CallAttempt)).all()
    contacts = [a.contact_id for a in attempts]
    assert len(contacts) == len(set(contacts)) == planned == 27  # 3 of the F2 contacts' 7 days are over
    assert sum(len(r) for r in results) == len(attempts)
