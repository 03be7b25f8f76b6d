"""Benchmark: SMS and simulated call throughput with 1, 2 and 4 worker processes, and on 2 hosts.

    .venv/bin/python bench/scale.py [--messages 20000] [--contacts 300]

Root only: the hosts are network namespaces (simulator/hosts.py) with a private redis-server and
PostgreSQL cluster on one, the SMSC (simulator.carriers) on another, workers on the other two; the
driver (this process) is the app host.  SMS: a campaign of `--messages` from the database to every
receipt recorded (the clock starts once the workers are registered).  Calls: one follow-up day of
`--contacts` on the simulated network (virtual clock), calls per wall-clock second.  The baseline is
1 worker process, measured in the same run; the ratio is 4 workers on one host against it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from simulator.hosts import Host, Network, start_postgres, start_redis, temp_dir, wait_port  # noqa: E402

SMPP_PORT = 2775
DAY = dt.date(2021, 8, 11)


def fresh_env(admin_url: str, redis_url: str, carriers: Host, run: int) -> dict[str, str]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "run{run}"'))
    admin.dispose()
    # A fresh SMSC per run: it knows messages by our id, which each database numbers from 1.
    carriers.kill()
    carriers.processes.clear()
    carriers.spawn([sys.executable, "-m", "simulator.carriers", "--smpp-port", str(SMPP_PORT), "--smpp-host",
                    carriers.address, "--http-port", "8081", "--receipt-url", "http://127.0.0.1:1/none",
                    "--secret", "s"], env=os.environ, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_port(carriers.address, SMPP_PORT, carriers.processes)
    gateway = {"kind": "smpp", "host": carriers.address, "port": SMPP_PORT, "rate": 100000, "window": 200}
    env = {
        "DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/run{run}",
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + f"/{run % 16}", "QUEUE_PREFIX": f"scale-{uuid.uuid4().hex[:6]}",
        "LOG_LEVEL": "WARNING", "SMS_QUIET_HOURS": "", "SMS_GATEWAYS": json.dumps({"viettel": gateway}),
        "SMS_ROUTES": "default=viettel", "SMS_BATCH_SIZE": "1000", "TELEPHONY_BACKEND": "sim", "SIM_SEED": "5",
        "MAX_CHANNELS": "30", "CALLS_PER_SECOND": "5", "DAILY_ATTEMPT_CAP": "1",
        "FLOWS_DIR": str(ROOT / "ivr_flows"), "AUDIO_DIR": str(ROOT / "audio"),
    }
    os.environ.update(env)
    from robocall.config import reset_settings

    reset_settings()
    return env


def start_workers(hosts: list[Host], count: int, env: dict[str, str], queues: list[str]) -> list[subprocess.Popen[bytes]]:
    argv = [sys.executable, "-m", "robocall.worker_main", *(a for q in queues for a in ("--queue", q))]
    return [hosts[i % len(hosts)].spawn(argv, env={**os.environ, **env}, cwd=ROOT) for i in range(count)]


def wait_registered(redis: object, count: int) -> None:
    from rq import Worker

    deadline = time.monotonic() + 60
    while Worker.count(connection=redis) < count and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.1)


def sms_rate(env: dict[str, str], hosts: list[Host], workers: int, messages: int) -> float:
    from robocall.config import get_settings
    from robocall.db import make_engine
    from robocall.migrate import upgrade
    from robocall.worker_main import stop_workers
    from sms.campaigns import create_campaign, figures
    from sms.context import context_from_settings
    from sms.fanout import drive
    from sms.prepare import Template
    from sms.recipients import Recipient

    engine = make_engine(env["DATABASE_URL"], pool_size=10)
    upgrade(engine)
    ctx = context_from_settings(get_settings(), engine)
    recipients = (Recipient(row=i + 2, raw=f"098{i:07d}") for i in range(messages))
    campaign_id = create_campaign(engine, recipients, Template("Thông báo khẩn của CDC", False), ctx.router).campaign_id
    processes = start_workers(hosts, workers, env, ["sms"])
    try:
        wait_registered(ctx.redis, workers)
        started = time.monotonic()
        drive(ctx, campaign_id)
        while figures(engine, campaign_id).by_state.get("delivered", 0) < messages:
            ctx.drain_receipts()
            time.sleep(0.1)
        return messages / (time.monotonic() - started)
    finally:
        stop_workers(processes, patience=10)
        ctx.close()
        engine.dispose()


def call_rate(env: dict[str, str], hosts: list[Host], workers: int, contacts: int) -> float:
    from sqlalchemy import insert
    from sqlmodel import Session

    from robocall.call_policy import policy_from_settings
    from robocall.config import get_settings
    from robocall.db import make_engine
    from robocall.migrate import upgrade
    from robocall.models import CallCampaign, Contact
    from robocall.queues import DIALER, queue, redis_connection
    from robocall.worker_main import stop_workers
    from simulator.clock import run_day

    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    rows = [{"phone": f"+8497{i:07d}", "name": f"Cư dân {i}", "category": "F1", "district": "Huế", "commune": "",
             "exposure_date": DAY - dt.timedelta(days=1), "monitoring_end": DAY + dt.timedelta(days=5),
             "language": "vi", "carrier": "", "opted_out": False, "source_list": "bench",
             "created_at": now, "updated_at": now} for i in range(contacts)]
    with Session(engine) as db:
        db.execute(insert(Contact), rows)
        db.add(CallCampaign(name="bench", flow="f1_f2_followup", categories="F1"))
        db.commit()
    processes = start_workers(hosts, workers, env, ["dialer", "calls", "sms"])
    try:
        connection = redis_connection()
        wait_registered(connection, workers)
        started = time.monotonic()
        result = run_day(engine, connection, queue(DIALER, connection), DAY, policy_from_settings(get_settings()))
        return result.calls / (time.monotonic() - started)
    finally:
        stop_workers(processes, patience=10)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=300)
    args = parser.parse_args()
    workdir = temp_dir()
    sms: dict[str, float] = {}
    calls: dict[str, float] = {}
    try:
        with Network(prefix="rcsb", subnet=50) as network:
            db, w1, w2, carriers = (network.add(n) for n in ("db", "w1", "w2", "carriers"))
            redis_url, admin_url = start_redis(db), start_postgres(db, workdir)
            run = 0
            for label, hosts, workers in (("1 worker", [w1], 1), ("2 workers", [w1], 2), ("4 workers", [w1], 4),
                                          ("4 workers on 2 hosts", [w1, w2], 4)):
                run += 1
                sms[label] = sms_rate(fresh_env(admin_url, redis_url, carriers, run), hosts, workers, args.messages)
                run += 1
                calls[label] = call_rate(fresh_env(admin_url, redis_url, carriers, run), hosts, workers, args.contacts)
                print(f"{label}: SMS {sms[label]:,.0f} msg/s ({sms[label] / sms['1 worker']:.2f}x), "
                      f"simulated calls {calls[label]:,.1f} calls/s ({calls[label] / calls['1 worker']:.2f}x)",
                      flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; "
          f"{args.messages:,} messages and {args.contacts} contacts per run")
    four, one = sms["4 workers"], sms["1 worker"]
    print(f"bench scale: {four:,.0f} msg/s with 4 workers, baseline {one:,.0f} msg/s with 1 worker, "
          f"ratio {four / one:.2f}x")


if __name__ == "__main__":
    main()
