"""Benchmark: channel utilisation of the dialer on the simulated phone network.

    .venv/bin/python bench/dialer.py [--calls 10000] [--channels 30] [--workers 2]

The dialer places `--calls` calls (one per contact, no retries) through real
Redis, RQ workers and an SQLite database, on the virtual clock.  Utilisation
is the channel time spent in calls divided by what the channels allow over
the run (first dial to last hang-up).  The baseline, measured in the same run
on the same simulator, is the naive dialer: each worker places one call at a
time and waits for it to end before dialling the next.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

DAY = dt.date(2021, 8, 11)


def configure(workdir: Path, channels: int) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "TELEPHONY_BACKEND": "sim", "SIM_SEED": "11", "MAX_CHANNELS": str(channels), "CALLS_PER_SECOND": "5",
        "DAILY_ATTEMPT_CAP": "1", "FLOWS_DIR": str(ROOT / "ivr_flows"), "AUDIO_DIR": str(ROOT / "audio"),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    from robocall.config import reset_settings

    reset_settings()
    return env


def seed(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert
    from sqlmodel import Session

    from robocall.models import CallCampaign, Contact

    rows = [{"phone": f"+8497{i:07d}", "name": f"Cư dân {i}", "category": "F1", "district": "Huế", "commune": "",
             "exposure_date": DAY - dt.timedelta(days=1), "monitoring_end": DAY + dt.timedelta(days=5),
             "language": "vi", "carrier": "", "opted_out": False, "source_list": "bench",
             "created_at": dt.datetime.now(dt.UTC), "updated_at": dt.datetime.now(dt.UTC)} for i in range(count)]
    with Session(engine) as db:
        db.execute(insert(Contact), rows)
        db.add(CallCampaign(name="bench", flow="f1_f2_followup", categories="F1"))
        db.commit()


def utilisation(spans: list[tuple[dt.datetime, dt.datetime]], channels: int) -> tuple[float, float]:
    """(utilisation %, makespan in hours) of calls occupying channels over [first start, last end]."""
    busy = sum((end - start).total_seconds() for start, end in spans)
    makespan = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
    return 100 * busy / (channels * makespan), makespan / 3600


def measured_dialer(calls: int, channels: int, workers: int) -> tuple[float, float, float]:
    from sqlmodel import Session, select

    from robocall.call_policy import policy_from_settings
    from robocall.config import get_settings
    from robocall.db import make_engine
    from robocall.migrate import upgrade
    from robocall.models import CallAttempt
    from robocall.queues import DIALER, queue, redis_connection
    from robocall.worker_main import spawn_workers, stop_workers
    from simulator.clock import run_day

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    seed(engine, calls)
    processes = spawn_workers(workers, os.environ, cwd=ROOT)
    try:
        started = time.perf_counter()
        connection = redis_connection()
        run_day(engine, connection, queue(DIALER, connection), DAY, policy_from_settings(settings))
        wall = time.perf_counter() - started
    finally:
        stop_workers(processes)
    with Session(engine) as db:
        spans = [(a.dialled_at, a.ended_at) for a in db.exec(select(CallAttempt)).all()]
    assert len(spans) == calls, f"expected {calls} calls, the dialer made {len(spans)}"
    percent, hours = utilisation(spans, channels)
    return percent, hours, calls / wall


def naive_dialer(calls: int, channels: int, workers: int) -> tuple[float, float]:
    """Each worker dials, waits for the hang-up, then dials the next: the same simulator and recording."""
    from sqlmodel import Session

    from robocall.call_policy import policy_from_settings
    from robocall.config import get_settings
    from robocall.conversations.call_handler import RecordingCallHandler
    from robocall.db import make_engine
    from robocall.flows.engine import contact_fields
    from robocall.flows.loader import load_flows
    from robocall.migrate import upgrade
    from robocall.models import CallAttempt, CallState
    from robocall.telephony.base import CallRequest
    from simulator.network import SimPhoneNetwork

    settings = get_settings()
    engine = make_engine(settings.database_url.replace("bench.db", "naive.db"))
    upgrade(engine)
    seed(engine, calls)
    flows, _ = load_flows([settings.flows_dir])
    flow = flows["f1_f2_followup"]
    network = SimPhoneNetwork({}, seed=settings.sim_seed, flows=flows)
    policy = policy_from_settings(settings)
    free_at = [(policy.window_opens(DAY), w) for w in range(workers)]
    spans = []
    for i in range(calls):
        start, worker = heapq.heappop(free_at)
        phone = f"+8497{i:07d}"
        with Session(engine) as db:
            attempt = CallAttempt(contact_id=i + 1, phone=phone, flow=flow.name, day=DAY, queued_at=start,
                                  state=CallState.QUEUED)
            db.add(attempt)
            db.commit()
            attempt_id = attempt.id
        fields = contact_fields(today=DAY, name=f"Cư dân {i}", category="F1", exposure_date=DAY - dt.timedelta(days=1))
        handler = RecordingCallHandler(engine, flow, attempt_id, i + 1, fields, "vi", dialled_at=start)
        result = network.run_call(CallRequest(attempt_id, phone, "", start, flow.name), handler, flow, DAY - dt.timedelta(days=1))
        spans.append((start, result.ended_at))
        heapq.heappush(free_at, (result.ended_at, worker))
    return utilisation(spans, channels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive-calls", type=int, default=1_000, help="calls for the naive baseline (a sample)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dialer-") as tmp:
        configure(Path(tmp), args.channels)
        measured, hours, rate = measured_dialer(args.calls, args.channels, args.workers)
        print(f"dialer: {args.calls} calls on {args.channels} channels in {hours:.2f} virtual hours; "
              f"utilisation {measured:.1f}%; {rate:.0f} simulated calls/s wall-clock with {args.workers} workers")
        baseline, naive_hours = naive_dialer(args.naive_calls, args.channels, args.workers)
        print(f"naive: {args.naive_calls} calls, one at a time per worker ({args.workers} workers), "
              f"{naive_hours:.2f} virtual hours; utilisation {baseline:.1f}%")
    print(f"bench dialer: {measured:.1f} % channel utilisation, baseline {baseline:.1f} % channel utilisation, "
          f"ratio {measured / baseline:.1f}x")


if __name__ == "__main__":
    main()
