"""Call campaigns survive a worker killed at any moment (issue 18): the abandoned calls are found and
played again at their planned time, nothing stays `queued` or `calling`, and the campaign comes out
exactly as an undisturbed run of the same seed.  The full drill (20 kills) is bench/call_drill.py."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import DialLimits, dial_tick, plan_day
from robocall.campaigns.recovery import LOST_BEFORE_DIALLING, claim, reclaim
from robocall.config import Settings, get_settings
from robocall.conversations.call_handler import RecordingCallHandler
from robocall.flows.loader import load_flows
from robocall.models import CallAttempt, CallCampaign, CallState, Contact, FollowUp, FollowUpState, stored_utc, utcnow
from robocall.worker_main import spawn_workers, stop_workers
from simulator.drills import DrillResult, WorkerProcesses, call_campaign
from tests.conftest import TEST_REDIS_DB, make_url_with_redis_db

ROOT = Path(__file__).parents[2]
POLICY = CallPolicy(retry_ladder=(dt.timedelta(minutes=15),))
DAY = dt.date(2021, 8, 11)
LEASE = dt.timedelta(seconds=30)
LIMITS = DialLimits(max_channels=2, calls_per_second=1, lease=LEASE)
WORKERS = WorkerProcesses(lambda count, env: spawn_workers(count, env, cwd=ROOT),
                          lambda processes: stop_workers(processes, patience=10))
CONTACTS = 16
LEASE_SECONDS = 1


def seed(engine: Engine, count: int = 3) -> None:
    with DbSession(engine) as db:
        for i in range(count):
            db.add(Contact(phone=f"+8491200000{i}", name=f"Người {i}", category="F1",
                           exposure_date=DAY - dt.timedelta(days=2), monitoring_end=DAY + dt.timedelta(days=5)))
        db.add(CallCampaign(name="F1", flow="f1_f2_followup", categories="F1"))
        db.commit()


def attempts(engine: Engine) -> list[CallAttempt]:
    with DbSession(engine) as db:
        return list(db.exec(select(CallAttempt).order_by(CallAttempt.id)).all())


# --- the lease, without workers ---------------------------------------------------------------------


def test_calls_planned_but_never_queued_are_handed_out_again_once_at_their_time(migrated: Engine) -> None:
    """A tick that committed and died before queueing its jobs left follow-ups `calling` with nothing
    behind them; after the lease they are handed out again, at the planned time, by one reclaimer only."""
    seed(migrated)
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    planned = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)  # no jobs queued
    assert len(planned) == 2
    with DbSession(migrated) as db:
        assert len(db.exec(select(FollowUp).where(FollowUp.state == FollowUpState.CALLING)).all()) == 2
    assert reclaim(migrated, POLICY, LEASE, opens) == []  # the lease still runs
    later = utcnow() + LEASE + dt.timedelta(seconds=1)
    handed = reclaim(migrated, POLICY, LEASE, opens, wall=later)
    assert [(d.attempt_id, d.start_at, d.number) for d in handed] == [(p.attempt_id, p.start_at, 1) for p in planned]
    assert reclaim(migrated, POLICY, LEASE, opens, wall=later) == []  # handed out once
    # The job queued before (delivered late) finds its number gone; the new one claims the call once.
    first = planned[0].attempt_id
    assert not claim(migrated, first, 0, LEASE, later)
    assert claim(migrated, first, 1, LEASE, later)
    assert not claim(migrated, first, 1, LEASE, later)
    # A claimed call is the claimer's until its lease runs out, then it may go again (the worker died mid-call).
    assert reclaim(migrated, POLICY, LEASE, opens, wall=later + LEASE / 2) == []
    handed = reclaim(migrated, POLICY, LEASE, opens, wall=later + LEASE * 2)
    assert [(d.attempt_id, d.number) for d in handed] == [(first, 3), (planned[1].attempt_id, 2)]


def test_only_queued_calls_are_handed_out_again(migrated: Engine) -> None:
    """A call a backend has marked dialling (it may have reached the person) is never dialled again."""
    seed(migrated)
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    planned = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    with DbSession(migrated) as db:
        dialled = db.get(CallAttempt, planned[0].attempt_id)
        assert dialled is not None
        dialled.state = CallState.DIALLING
        db.add(dialled)
        db.commit()
    handed = reclaim(migrated, POLICY, LEASE, opens, wall=utcnow() + LEASE * 2)
    assert [d.attempt_id for d in handed] == [planned[1].attempt_id]


def test_a_call_found_after_its_window_closed_is_not_dialled_late(migrated: Engine) -> None:
    seed(migrated, 1)
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    [call] = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    night = POLICY.window_closes(DAY) + dt.timedelta(hours=1)
    assert reclaim(migrated, POLICY, LEASE, night, wall=utcnow() + LEASE * 2) == []
    [attempt] = attempts(migrated)
    assert (attempt.id, attempt.state, attempt.end_reason) == (call.attempt_id, CallState.FAILED, LOST_BEFORE_DIALLING)
    with DbSession(migrated) as db:
        follow_up = db.exec(select(FollowUp)).one()
    assert follow_up.state == FollowUpState.UNREACHED  # moved on, not left `calling`


def test_a_tick_run_again_over_its_window_plans_nothing_new(migrated: Engine) -> None:
    """The second run of a tick (its first worker died after committing) must not give the channels its
    first run's calls freed inside the window to others: the undisturbed run would start those at the
    next tick, at another moment (and the simulator's residents answer by the moment)."""
    seed(migrated)
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    horizon = opens + dt.timedelta(minutes=10)
    first = dial_tick(migrated, opens, horizon, POLICY, LIMITS)
    assert len(first) == 2
    with DbSession(migrated) as db:  # both calls over within the window, nobody answered
        for attempt in db.exec(select(CallAttempt)).all():
            attempt.state, attempt.ended_at = CallState.BUSY, opens + dt.timedelta(seconds=20)
            db.add(attempt)
        db.commit()
    assert dial_tick(migrated, opens, horizon, POLICY, LIMITS) == []
    assert len(dial_tick(migrated, horizon, horizon + dt.timedelta(minutes=1), POLICY, LIMITS)) == 1


def test_a_call_is_written_once(migrated: Engine) -> None:
    """A call played again after its lease ran out (the first worker slow, or cut off) is not recorded twice."""
    seed(migrated, 1)
    plan_day(migrated, DAY, POLICY)
    opens = POLICY.window_opens(DAY)
    [call] = dial_tick(migrated, opens, opens + dt.timedelta(seconds=10), POLICY, LIMITS)
    flows, _ = load_flows([get_settings().flows_dir])
    handlers = [RecordingCallHandler(migrated, flows["f1_f2_followup"], call.attempt_id, None,
                                     {"today": DAY.isoformat()}, "vi", opens)
                for _ in range(2)]
    handlers[0].ended(CallState.NO_ANSWER, opens + dt.timedelta(seconds=30))
    handlers[1].ended(CallState.BUSY, opens + dt.timedelta(seconds=5))
    [attempt] = attempts(migrated)
    assert attempt.ended_at is not None
    assert (attempt.state, stored_utc(attempt.ended_at)) == (CallState.NO_ANSWER, opens + dt.timedelta(seconds=30))


# --- workers killed during a campaign ----------------------------------------------------------------


def _redis() -> str:
    return make_url_with_redis_db(Settings().redis_url, TEST_REDIS_DB)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> DrillResult:
    """The campaign with no kill: what every drill must give."""
    url = f"sqlite:///{tmp_path_factory.mktemp('drill') / 'undisturbed.db'}"
    return call_campaign(WORKERS, url, _redis(), contacts=CONTACTS, days=1, lease_seconds=LEASE_SECONDS)


def _drill(tmp_path: Path, **options: object) -> DrillResult:
    # SQLite here; the PostgreSQL kill (its advisory lock) is tests/test_multihost.py's dead worker host.
    return call_campaign(WORKERS, f"sqlite:///{tmp_path / 'drill.db'}", _redis(), contacts=CONTACTS, days=1,
                         lease_seconds=LEASE_SECONDS, **options)  # type: ignore[arg-type]


@pytest.mark.timeout(240)
def test_workers_killed_at_the_worst_moments_change_nothing(tmp_path: Path, redis_url: str,
                                                           undisturbed: DrillResult) -> None:
    """One worker dies in the first tick that planned calls, after its commit and before queueing them:
    the follow-ups were `calling` with no job behind them, and the tick's job stayed `started` for ever
    (run_day waited on it until it gave up).  The next dies mid-call, once the resident has picked up:
    the call is played again in full."""
    dying = [[sys.executable, str(ROOT / "tests/campaigns/dying_worker.py"), point]
             for point in ("after_tick_commit", "mid_call")]
    killed = _drill(tmp_path, first_workers=dying)
    assert killed.first_exits == [-9, -9]  # each died where it was made to
    assert killed.stuck == 0
    assert killed.handed_again >= 2
    assert killed.attempts == undisturbed.attempts
    assert killed.report == undisturbed.report


@pytest.mark.timeout(240)
def test_workers_killed_at_random_moments_change_nothing(tmp_path: Path, redis_url: str,
                                                         undisturbed: DrillResult) -> None:
    # Soon after the workers are up: the short campaign lasts a second or two on a quiet machine.
    killed = _drill(tmp_path, kills=2, kill_seed=3, gap=(0.05, 0.3))
    # Two kills are asked for; the campaign may end before the second.
    assert killed.kills >= 1
    assert killed.stuck == 0
    assert killed.attempts == undisturbed.attempts
    assert killed.report == undisturbed.report
