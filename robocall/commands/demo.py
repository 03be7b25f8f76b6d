"""`robocall demo`: the main job, end to end on the embedded defaults.

Imports the synthetic contacts, runs the whole monitoring campaign on the
simulated phone network through real RQ workers and Redis on a virtual
clock, and prints the provincial report.  The SMS a flow sends after a call
(`do: [sms]`) go through the simulated carrier on the same workers (they
serve the SMS queue too), and the report counts them.  It works in its own database
(`var/demo.db`, recreated each run) and its own queues, so it never touches
real data or real workers.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.call_policy import policy_from_settings
from robocall.config import get_settings, reset_settings
from robocall.contacts.importer import import_contacts
from robocall.conversations.outbox import wait_until_sent
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.models import CallCampaign, Contact
from robocall.queues import DIALER, queue, redis_connection
from robocall.reports import format_report, provincial_report
from robocall.worker_main import spawn_workers, stop_workers
from simulator.clock import hotline_callers, run_day
from simulator.contacts import write_contacts_csv
from simulator.population import PROFILES

SAMPLE = Path("data/sample_contacts.csv")
FIRST_DAY = dt.date(2021, 8, 11)  # the sample's exposures run 1-10 August 2021


@click.command()
@click.option("--contacts", "count", type=int, default=None,
              help="Number of synthetic contacts (default: the shipped sample, data/sample_contacts.csv).")
@click.option("--days", default=14, show_default=True, help="Follow-up days to run.")
@click.option("--seed", default=2021, show_default=True, help="Seed of the simulated residents.")
@click.option("--profile", type=click.Choice(PROFILES), default="province", show_default=True,
              help="Simulated residents: rates a province saw in 2021, or an outbreak (a flood of cases).")
@click.option("--workers", default=2, show_default=True, help="RQ worker processes to start.")
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), default=Path("var/demo.db"),
              show_default=True, help="SQLite file for the demo (recreated).")
def demo(count: int | None, days: int, seed: int, profile: str, workers: int, database: Path) -> None:
    """Run a tracing campaign on the simulator and print the report."""
    console = Console()
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.environ.update({
        "DATABASE_URL": f"sqlite:///{database.resolve()}",
        "TELEPHONY_BACKEND": "sim",
        "SIM_SEED": str(seed),
        "SIM_PROFILE": profile,
        "QUEUE_PREFIX": f"demo-{uuid.uuid4().hex[:8]}",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),  # per-call lines would drown the progress bars
    })
    reset_settings()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    policy = policy_from_settings(settings)

    source = SAMPLE
    if count is not None:
        source = database.with_name(f"demo-contacts-{count}-{seed}.csv")
        write_contacts_csv(source, count, seed)
    report = import_contacts(engine, source, None, source_list="demo", policy=policy, today=FIRST_DAY)
    console.print(f"Imported {report.inserted} contacts from {source}"
                  + (f"; {report.rejected} rows rejected:" if report.rejected else ""))
    for rejected in report.rejected_rows[:10]:
        console.print(f"  row {rejected.row}: {rejected.reason}")
    with DbSession(engine) as db:
        db.add(CallCampaign(name="Theo dõi F1/F2 hằng ngày", flow="f1_f2_followup", categories="F1,F2"))
        db.add(CallCampaign(name="Người về từ vùng dịch", flow="returnee_check", categories="returnee"))
        db.commit()

    with DbSession(engine) as db:
        phones = list(db.exec(select(Contact.phone)).all())
    connection = redis_connection()
    processes = spawn_workers(workers, os.environ)
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            day_task = progress.add_task("Ngày theo dõi", total=days)
            call_task = progress.add_task("Cuộc gọi", total=None)
            for offset in range(days):
                day = FIRST_DAY + dt.timedelta(days=offset)
                result = run_day(engine, connection, queue(DIALER, connection), day, policy,
                                 on_calls=lambda n: progress.advance(call_task, n),
                                 inbound=hotline_callers(day, seed, phones, policy))
                progress.advance(day_task)
                progress.console.print(f"{day:%d/%m/%Y}: {result.planned} to call, {result.calls} calls, "
                                       f"{result.home_visits} home visits")
        # The flows' SMS after calls went to the SMS queue, which the same workers serve: let them finish.
        left = wait_until_sent(engine, timeout=120.0)
        if left:
            console.print(f"{left} SMS still waiting for a worker")
    finally:
        stop_workers(processes)
    end = FIRST_DAY + dt.timedelta(days=days - 1)
    console.print()
    console.print(format_report(provincial_report(engine, FIRST_DAY, end, settings.timezone)))
    console.print(f"\nDatabase: {database}  (DATABASE_URL=sqlite:///{database.resolve()} robocall report)")
