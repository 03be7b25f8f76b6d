"""Run follow-up days on a virtual clock, through the dialer's RQ jobs.

The runner is the clock: for each day it plans the follow-ups, then moves
time forward tick by tick; at each tick it queues one dialer job and waits
for that job and the calls it started (the simulator completes a call inside
its job, in virtual time).  Idle stretches (everyone waiting for a retry)
are skipped.  At the end of the window it closes the day.

A worker may die at any moment (the kill drills, bench/call_drill.py): a tick job whose worker died is
queued again after the lease (the dialer's lock makes the second run wait for, or skip, the first), and
the calls a dead worker abandoned are handed out again by the production reaper
(robocall/campaigns/recovery.py) before the clock moves on, so the day is the day an undisturbed run of
the same seed gives.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy.engine import Engine

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import close_day, next_moment, pending_work, plan_day
from robocall.campaigns.jobs import dial_tick_job, reclaim_calls
from robocall.campaigns.recovery import planned_between, queued_calls
from robocall.config import get_settings
from robocall.queues import CALLS, JobsUnfinished, queue, wait_for_jobs
from simulator.backend import hotline_call_job


@dataclass
class DayResult:
    day: dt.date
    planned: int
    calls: int
    home_visits: int


def hotline_callers(day: dt.date, seed: int, phones: list[str], policy: CallPolicy,
                    share: float = 0.04) -> list[tuple[str, dt.datetime]]:
    """Who rings the hotline on `day` (07:00-21:00 local), and when: some monitored people, and as
    many strangers."""
    rng = random.Random(f"hotline|{seed}|{day.isoformat()}")
    known = [p for p in phones if rng.random() < share]
    strangers = [f"+8498{rng.randrange(10**7):07d}" for _ in range(len(known))]
    opens = dt.datetime.combine(day, dt.time(7, 0), policy.tz).astimezone(dt.UTC)
    return [(phone, opens + dt.timedelta(seconds=rng.uniform(0, 14 * 3600))) for phone in known + strangers]


def run_day(engine: Engine, connection: Redis, dialer_queue: Queue, day: dt.date, policy: CallPolicy,
            tick: dt.timedelta = dt.timedelta(seconds=10),
            on_calls: Callable[[int], None] | None = None,
            inbound: list[tuple[str, dt.datetime]] | None = None,
            lease: dt.timedelta | None = None, patience: float = 600.0) -> DayResult:
    """One follow-up day; `lease` is how long a job may stay unfinished before its worker is taken for
    dead (CALL_LEASE_SECONDS); JobsUnfinished when nothing moves for `patience` seconds (no worker)."""
    lease = lease or dt.timedelta(seconds=get_settings().call_lease_seconds)
    calls_queue = queue(CALLS, connection)
    planned = plan_day(engine, day, policy)
    calls = 0
    hotline_jobs = [dialer_queue.enqueue(hotline_call_job, phone, at.isoformat(), result_ttl=600).id
                    for phone, at in inbound or []]
    now, closes = policy.window_opens(day), policy.window_closes(day)
    while now < closes:
        open_count, earliest = pending_work(engine, day)
        if open_count == 0 or earliest is None:
            break
        now = max(now, earliest)  # nobody is due before then: skip ahead
        if now >= closes:
            break
        horizon = min(now + tick, closes)
        call_ids = run_tick(connection, dialer_queue, now, horizon, lease, patience)
        _finish_calls(engine, connection, calls_queue, policy, day, now, horizon, call_ids, lease, patience)
        placed = planned_between(engine, now, horizon)  # from the database: a re-run tick returns nothing
        calls += placed
        if on_calls and placed:
            on_calls(placed)
        if not placed:  # channels full or nobody due: jump to when that changes
            later = next_moment(engine, day, now)
            now = max(horizon, later) if later else horizon
        else:
            now = horizon
    wait_for_jobs(hotline_jobs, connection)
    calls += len(hotline_jobs)
    home_visits = close_day(engine, day, policy, at=closes)
    return DayResult(day, planned, calls, len(home_visits))


def run_tick(connection: Redis, dialer_queue: Queue, now: dt.datetime, horizon: dt.datetime, lease: dt.timedelta,
          patience: float) -> list[str]:
    """Run the dial tick over [now, horizon); queued again when its worker seems dead (unfinished after
    the lease).  The call job ids of the run that finished (none from a run that found the window dialled)."""
    give_up = time.monotonic() + patience
    while True:
        job = dialer_queue.enqueue(dial_tick_job, now.isoformat(), horizon.isoformat(), result_ttl=600)
        try:
            wait_for_jobs([job.id], connection, timeout=max(lease.total_seconds(), 1.0))
        except JobsUnfinished:
            if time.monotonic() > give_up:
                raise
            continue
        return Job.fetch(job.id, connection=connection).return_value() or []


def _finish_calls(engine: Engine, connection: Redis, calls_queue: Queue, policy: CallPolicy, day: dt.date,
                  now: dt.datetime, horizon: dt.datetime, call_ids: list[str], lease: dt.timedelta,
                  patience: float) -> None:
    """Wait until every call planned before `horizon` has been played, handing out again (the production
    reaper) those whose worker died."""
    give_up = time.monotonic() + patience
    waiting = call_ids
    while True:
        try:
            wait_for_jobs(waiting, connection, timeout=max(lease.total_seconds(), 1.0))
        except JobsUnfinished:
            pass  # a worker died holding one: the database says which calls are left
        if queued_calls(engine, day, before=horizon) == 0:
            return
        if time.monotonic() > give_up:
            raise JobsUnfinished(f"calls of {day} still queued after {patience:.0f} s (are workers running?)")
        waiting = reclaim_calls(engine, policy, lease, now, calls_queue)
        if not waiting:
            time.sleep(min(lease.total_seconds() / 4, 0.5))  # leases still running: look again soon
