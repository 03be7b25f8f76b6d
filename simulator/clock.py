"""Run follow-up days on a virtual clock, through the dialer's RQ jobs.

The runner is the clock: for each day it plans the follow-ups, then moves
time forward tick by tick; at each tick it queues one dialer job and waits
for that job and the calls it started (the simulator completes a call inside
its job, in virtual time).  Idle stretches (everyone waiting for a retry)
are skipped.  At the end of the window it closes the day.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy.engine import Engine

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import close_day, next_moment, pending_work, plan_day
from robocall.campaigns.jobs import dial_tick_job
from robocall.queues import wait_for_jobs
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
            inbound: list[tuple[str, dt.datetime]] | None = None) -> DayResult:
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
        job = dialer_queue.enqueue(dial_tick_job, now.isoformat(), horizon.isoformat(), result_ttl=600)
        wait_for_jobs([job.id], connection)
        call_ids: list[str] = Job.fetch(job.id, connection=connection).return_value() or []
        wait_for_jobs(call_ids, connection)
        calls += len(call_ids)
        if on_calls and call_ids:
            on_calls(len(call_ids))
        if not call_ids:  # channels full or nobody due: jump to when that changes
            later = next_moment(engine, day, now)
            now = max(horizon, later) if later else horizon
        else:
            now = horizon
    wait_for_jobs(hotline_jobs, connection)
    calls += len(hotline_jobs)
    home_visits = close_day(engine, day, policy, at=closes)
    return DayResult(day, planned, calls, len(home_visits))
