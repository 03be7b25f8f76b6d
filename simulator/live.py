"""Run one follow-up day on the wall clock, for a backend whose calls take real time (Asterisk).

The virtual clock (`clock.py`) skips ahead between calls; a real phone system cannot.  Here the
dialer's own functions run as the RQ jobs would run them: plan the day, then every `tick` give the
free channels to the follow-ups due (`dial_tick`), place those calls through the backend, and wait
for the calls to end and the retries (the settings' RETRY_LADDER: seconds, for a demo or a test) to
fall due, until nobody is left to call today.  Then the day is closed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from redis import Redis
from rq import Queue
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.call_policy import CallPolicy
from robocall.campaigns.dialer import DialLimits, close_day, dial_tick, pending_work, plan_day
from robocall.campaigns.recovery import planned_between
from robocall.models import CallAttempt
from robocall.telephony.base import CallRequest, PhoneBackend
from simulator.clock import DayResult, run_tick


def request_for(engine: Engine, attempt_id: int, at: dt.datetime) -> CallRequest:
    with DbSession(engine) as db:
        attempt = db.get(CallAttempt, attempt_id)
        if attempt is None:
            raise LookupError(f"call attempt {attempt_id} does not exist")
        return CallRequest(attempt_id, attempt.phone, attempt.caller_id, at, attempt.flow)


def _still_open(engine: Engine, day: dt.date, give_up: float, deadline: float) -> bool:
    """Whether the day still has follow-ups to call; TimeoutError once `give_up` (monotonic) has passed."""
    open_count, _earliest = pending_work(engine, day)
    if open_count and time.monotonic() > give_up:
        raise TimeoutError(f"{open_count} follow-ups still open after {deadline:.0f} s")
    return open_count > 0


def run_live_day(engine: Engine, backend: PhoneBackend, day: dt.date, policy: CallPolicy, limits: DialLimits,
                 deadline: float = 900.0, tick: float = 1.0,
                 on_calls: Callable[[int], None] | None = None) -> DayResult:
    """The whole day in real time; TimeoutError when it is not over after `deadline` seconds."""
    planned = plan_day(engine, day, policy)
    calls = 0
    give_up = time.monotonic() + deadline
    placing: list[threading.Thread] = []
    while _still_open(engine, day, give_up, deadline):
        now = dt.datetime.now(dt.UTC)
        for call in dial_tick(engine, now, now + dt.timedelta(seconds=tick), policy, limits):
            wait = (call.start_at - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0:
                time.sleep(wait)  # the dialer's pace: each call at the moment it was given
            request = request_for(engine, call.attempt_id, call.start_at)
            # A backend may run the whole call in place_call (the simulator): one thread per call.
            thread = threading.Thread(target=backend.place_call, args=(request,), daemon=True)
            thread.start()
            placing.append(thread)
            calls += 1
            if on_calls:
                on_calls(1)
        placing = [t for t in placing if t.is_alive()]
        time.sleep(0.2)  # poll: calls end and retries fall due on their own
    for thread in placing:
        thread.join(30)
    closes = dt.datetime.now(dt.UTC)
    home_visits = close_day(engine, day, policy, at=closes)
    return DayResult(day, planned, calls, len(home_visits))


def run_live_rq_day(engine: Engine, connection: Redis, dialer_queue: Queue, day: dt.date, policy: CallPolicy,
                    lease: dt.timedelta, deadline: float = 300.0, tick: float = 1.0,
                    on_calls: Callable[[int], None] | None = None) -> DayResult:
    """The whole day in real time through the RQ workers, as production runs it: every `tick` a
    `dial_tick_job` (which also hands out again the calls a dead worker abandoned), its calls placed by
    `place_call_job`s, the backend's serve side recording them.  A tick job unfinished after `lease` is
    queued again.  TimeoutError when the day is not over after `deadline` seconds."""
    planned = plan_day(engine, day, policy)
    calls = 0
    give_up = time.monotonic() + deadline
    while _still_open(engine, day, give_up, deadline):
        now = dt.datetime.now(dt.UTC)
        horizon = now + dt.timedelta(seconds=tick)
        run_tick(connection, dialer_queue, now, horizon, lease, patience=deadline)
        placed = planned_between(engine, now, horizon)
        calls += placed
        if on_calls and placed:
            on_calls(placed)
        time.sleep(max(0.0, (horizon - dt.datetime.now(dt.UTC)).total_seconds()))
    home_visits = close_day(engine, day, policy, at=dt.datetime.now(dt.UTC))
    return DayResult(day, planned, calls, len(home_visits))
