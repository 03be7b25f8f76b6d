"""`robocall demo`: the main job, end to end on the embedded defaults.

`--backend asterisk` runs one day of a short campaign on a real Asterisk instead (see `_asterisk_day`).

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
import signal
import sys
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
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.audio.build import build
from robocall.audio.prompts import prompts_of
from robocall.audio.render import Renderer
from robocall.call_policy import CallPolicy, caller_ids_from_settings, policy_from_settings
from robocall.campaigns.dialer import DialLimits
from robocall.campaigns.jobs import campaign_calls
from robocall.config import Settings, get_settings, reset_settings
from robocall.contacts.importer import import_contacts
from robocall.conversations.outbox import wait_until_sent
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.migrate import upgrade
from robocall.models import CallCampaign, Contact
from robocall.queues import DIALER, queue, redis_connection
from robocall.reports import format_report, provincial_report
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.worker_main import spawn_workers, stop_workers
from simulator.asterisk_world import AsteriskWorld, NoAsterisk, asterisk_prefix
from simulator.clock import hotline_callers, run_day
from simulator.contacts import DAYS, write_contacts_csv
from simulator.live import run_live_day
from simulator.network import SimPhoneNetwork
from simulator.population import PROFILES
from simulator.scripts import campaign_scripts, people_of

SAMPLE = Path("data/sample_contacts.csv")
FIRST_DAY = dt.date(2021, 8, 11)  # the sample's exposures run 1-10 August 2021
ROOT = Path(__file__).resolve().parents[2]
ASTERISK_CONTACTS = 40
# A day on the wall clock: retries seconds apart, the window open all day, three calls a contact at most.
ASTERISK_DAY = {"RETRY_LADDER": "3s", "CALL_WINDOW": "00:00-23:59", "DAILY_ATTEMPT_CAP": "3", "MAX_CHANNELS": "30",
                "CALLS_PER_SECOND": "10"}


@click.command()
@click.option("--backend", type=click.Choice(["sim", "asterisk"]), default="sim", show_default=True,
              help="sim: the simulated network on a virtual clock; asterisk: one day of a short campaign "
                   "through the real Asterisk in var/asterisk (`make setup`), residents played by dialplan.")
@click.option("--spoken", is_flag=True,
              help="With --backend asterisk: the flows' prompts spoken (espeak-ng, rendered first) instead of tones.")
@click.option("--contacts", "count", type=int, default=None,
              help="Number of synthetic contacts (default: the shipped sample, data/sample_contacts.csv; "
                   f"{ASTERISK_CONTACTS} with --backend asterisk).")
@click.option("--days", default=14, show_default=True, help="Follow-up days to run.")
@click.option("--seed", default=2021, show_default=True, help="Seed of the simulated residents.")
@click.option("--profile", type=click.Choice(PROFILES), default="province", show_default=True,
              help="Simulated residents: rates a province saw in 2021, or an outbreak (a flood of cases).")
@click.option("--workers", default=2, show_default=True, help="RQ worker processes to start.")
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), default=Path("var/demo.db"),
              show_default=True, help="SQLite file for the demo (recreated).")
def demo(backend: str, spoken: bool, count: int | None, days: int, seed: int, profile: str, workers: int,
         database: Path) -> None:
    """Run a tracing campaign on the simulator (or a day of one on Asterisk) and print the report."""
    console = Console()
    if backend == "asterisk":
        try:
            asterisk_prefix(ROOT)
        except NoAsterisk as exc:
            raise click.ClickException(f"Chưa có Asterisk để chạy thử: hãy chạy `make setup`. ({exc})") from None
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
        **(ASTERISK_DAY if backend == "asterisk" else {}),
        **({"AUDIO_ENGINE_ORDER": "espeak"} if spoken else {}),  # offline, and quick to render
    })
    reset_settings()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    policy = policy_from_settings(settings)

    first_day = FIRST_DAY
    source = SAMPLE
    if backend == "asterisk":
        first_day = policy.local_day(dt.datetime.now(dt.UTC))  # today: exposures in the last ten days
        count = count or ASTERISK_CONTACTS
    if count is not None:
        source = database.with_name(f"demo-contacts-{count}-{seed}.csv")
        write_contacts_csv(source, count, seed, first_day - dt.timedelta(days=DAYS))
    report = import_contacts(engine, source, None, source_list="demo", policy=policy, today=first_day)
    console.print(f"Imported {report.inserted} contacts from {source}"
                  + (f"; {report.rejected} rows rejected:" if report.rejected else ""))
    for rejected in report.rejected_rows[:10]:
        console.print(f"  {rejected}", markup=False)
    with DbSession(engine) as db:
        db.add(CallCampaign(name="Theo dõi F1/F2 hằng ngày", flow="f1_f2_followup", categories="F1,F2"))
        db.add(CallCampaign(name="Người về từ vùng dịch", flow="returnee_check", categories="returnee"))
        db.commit()
    if backend == "asterisk":
        _asterisk_day(console, engine, settings, policy, first_day, seed, workers, spoken)
        console.print(f"\nDatabase: {database}  (DATABASE_URL=sqlite:///{database.resolve()} robocall report)")
        return

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
    console.print(format_report(provincial_report(engine, FIRST_DAY, end, settings.timezone),
                                flow_catalog(settings).vocabulary))
    console.print(f"\nDatabase: {database}  (DATABASE_URL=sqlite:///{database.resolve()} robocall report)")


def _asterisk_day(console: Console, engine: Engine, settings: Settings, policy: CallPolicy, day: dt.date,
                  seed: int, workers: int, spoken: bool) -> None:
    """Today's calls through a real Asterisk: the residents' scripts (the simulator's residents and seed)
    as dialplan, Asterisk started on free loopback ports with the project's templates and stopped at the
    end, the serve side (FastAGI, AMI) in this process, the dialer on the wall clock; the report."""
    flows = flow_catalog(settings).flows
    network = SimPhoneNetwork({}, seed=seed, flows=flows, timezone=settings.timezone, profile=settings.sim_profile)
    scripts = campaign_scripts(network, people_of(engine), flows, day, settings.daily_attempt_cap)
    handlers = campaign_calls(engine, flows, settings, policy, backend="asterisk")
    limits = DialLimits(settings.max_channels, settings.calls_per_second, caller_ids_from_settings(settings))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped demo stops its Asterisk too
    prompts = None
    if spoken:
        renderer = Renderer(settings)
        wanted = [prompt for flow in {p.flow for p in people_of(engine)} for prompt in prompts_of(flows[flow])]
        with console.status("Đang tạo âm thanh lời nhắc (rendering the prompts)"):
            summary = build(renderer, wanted, ["asterisk"])
        console.print(f"{len(wanted)} lời nhắc (prompts), {len(summary.failures)} lỗi (failed)")
        prompts = RenderedPrompts(renderer, flows)
    processes = spawn_workers(workers, os.environ)  # they send the flows' SMS after calls
    try:
        with AsteriskWorld(ROOT, engine, flows, handlers, scripts, ring_timeout=5, amd=True,
                           prompts=prompts) as backend:
            console.print(f"Asterisk đã chạy (Asterisk running): {len(scripts)} cư dân (residents) trong dialplan")
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console) as progress:
                call_task = progress.add_task("Cuộc gọi qua Asterisk", total=None)
                result = run_live_day(engine, backend, day, policy, limits,
                                      on_calls=lambda n: progress.advance(call_task, n))
            console.print(f"{day:%d/%m/%Y}: {result.planned} to call, {result.calls} calls, "
                          f"{result.home_visits} home visits")
        left = wait_until_sent(engine, timeout=60.0)
        if left:
            console.print(f"{left} SMS still waiting for a worker")
    finally:
        stop_workers(processes)
    console.print()
    console.print(format_report(provincial_report(engine, day, day, settings.timezone),
                                flow_catalog(settings).vocabulary))
