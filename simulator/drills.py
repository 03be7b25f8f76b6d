"""Kill drills for call campaigns: RQ workers killed with SIGKILL at random moments while the simulated
phone network is called, and the outcome compared with an undisturbed run of the same seed.

`call_campaign` runs a campaign of `days` follow-up days through real Redis, RQ worker processes and
the database on the virtual clock (simulator/clock.py), with a killer thread that SIGKILLs one worker
at a random moment, starts a replacement, and does it again until `kills` are done.  What it returns
is everything a person would see of the campaign: the provincial report and every attempt (who, which
day, which try, when, how it ended), plus what was left stuck.  Used by bench/call_drill.py (20 kills)
and tests/campaigns/test_call_drills.py (a small one).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from redis import Redis
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.call_policy import policy_from_settings
from robocall.campaigns.jobs import campaign_calls
from robocall.config import get_settings, reset_settings
from robocall.contacts.importer import import_contacts
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.flows.loader import Flow
from robocall.migrate import upgrade
from robocall.models import (
    ACTIVE_CALL_STATES,
    CallAttempt,
    CallCampaign,
    Contact,
    FollowUp,
    FollowUpState,
)
from robocall.queues import DIALER, queue, redis_connection
from robocall.reports import provincial_report
from simulator.asterisk_residents import CONTEXT as RESIDENTS
from simulator.asterisk_world import AsteriskWorld, noon_zone
from simulator.clock import run_day
from simulator.contacts import DAYS, write_contacts_csv
from simulator.live import run_live_rq_day
from simulator.network import SimPhoneNetwork
from simulator.scripts import CallScript, Person, campaign_scripts, placed, recorded_calls, scripted

ROOT = Path(__file__).parents[1]
FIRST_DAY = dt.date(2021, 8, 11)


@dataclass(frozen=True)
class WorkerProcesses:
    """How to start and stop RQ worker processes (robocall.worker_main's spawn_workers and stop_workers,
    handed in by the caller: the simulator does not import a composition root)."""

    spawn: Callable[[int, dict[str, str]], list[subprocess.Popen[bytes]]]
    stop: Callable[[list[subprocess.Popen[bytes]]], None]


@dataclass
class DrillResult:
    report: dict[str, object]
    attempts: list[tuple[object, ...]]  # (phone, day, try, dialled at, state, answered, end reason), in order
    kills: int  # workers killed with SIGKILL while the campaign ran
    handed_again: int  # calls a dead worker abandoned, handed out again by the reaper
    stuck: int  # attempts still active, follow-ups still calling, at the end
    seconds: float
    kill_times: list[float] = field(default_factory=list)  # seconds into the run
    first_exits: list[int | None] = field(default_factory=list)  # how the `first_workers` ended (-9: killed)
    landed: dict[str, int] = field(default_factory=dict)  # kills by what the worker was running


@contextmanager
def _settings(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reset_settings()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


class Killer(threading.Thread):
    """SIGKILLs a worker at random moments (`gap` seconds apart, drawn at random), a busy one when there is
    one, starting a replacement each time."""

    def __init__(self, workers: list[subprocess.Popen[bytes]], env: dict[str, str], kills: int, seed: int,
                 gap: tuple[float, float], connection: Redis, processes: WorkerProcesses, replace: bool = True,
                 busy_wait: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.busy_wait = busy_wait
        self.workers, self.env, self.kills, self.gap, self.connection = workers, env, kills, gap, connection
        self.replace = replace
        self.landed: Counter[str] = Counter()  # what each victim was doing: a dial tick, a call, nothing
        self.rng = random.Random(seed)
        self.done = 0
        self.times: list[float] = []
        self.stop = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while self.done < self.kills and not self.stop.wait(self.rng.uniform(*self.gap)):
            victim, doing = self._choose()
            if victim is None:
                continue
            victim.kill()
            victim.wait()
            self.landed[_kind(doing)] += 1
            self.done += 1
            self.times.append(round(time.monotonic() - self.started_at, 2))
            if self.replace:
                self.workers.extend(self.processes.spawn(1, self.env))

    def _choose(self) -> tuple[subprocess.Popen[bytes] | None, set[bytes]]:
        """A worker that is up (registered with RQ: one still starting is not worth a kill) and, if one
        is found within `busy_wait` seconds, running a job: a drill that mostly killed idle workers would
        prove little."""
        deadline = time.monotonic() + self.busy_wait
        while True:
            ready = [w for w in self.workers if w.poll() is None and self.connection.exists(f"rq:worker:robocall-{w.pid}")]
            busy = [(w, doing) for w in ready
                    if (doing := self.connection.smembers(f"rq:worker:robocall-{w.pid}:executions"))]
            if busy:
                return self.rng.choice(busy)
            if time.monotonic() > deadline or self.stop.is_set():
                return (self.rng.choice(ready), set()) if ready else (None, set())
            time.sleep(0.002)


def _kind(executions: set[bytes]) -> str:
    """What a worker was running, from its RQ executions ("<job id>:<execution id>"): call job ids hold
    the calls queue's name (robocall.campaigns.jobs.enqueue_calls)."""
    if not executions:
        return "idle"
    return "call" if any(b"-calls-" in e for e in executions) else "dial tick"


def call_campaign(processes: WorkerProcesses, database_url: str, redis_url: str, contacts: int = 60, days: int = 2, seed: int = 5,
                  workers: int = 2, kills: int = 0, kill_seed: int = 1, lease_seconds: int = 2,
                  gap: tuple[float, float] = (0.2, 1.5), first_workers: Sequence[Sequence[str]] = ()) -> DrillResult:
    """A campaign on a fresh database at `database_url` (migrated here), with `kills` worker kills.
    `first_workers`: the argv of workers that work alone one after the other, each until it exits (made
    to die at a chosen point, for the tests), after which the `workers` are started."""
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "QUEUE_PREFIX": f"drill-{uuid.uuid4().hex[:8]}",
        "TELEPHONY_BACKEND": "sim", "SIM_SEED": str(seed), "FLOWS_DIR": str(ROOT / "ivr_flows"),
        "AUDIO_DIR": str(ROOT / "audio"), "LOG_LEVEL": "ERROR", "CALL_LEASE_SECONDS": str(lease_seconds),
        "MAX_CHANNELS": "10", "CALLS_PER_SECOND": "2",
    }
    with _settings(env):
        settings = get_settings()
        policy = policy_from_settings(settings)
        engine = make_engine(database_url)
        upgrade(engine)
        csv = Path(os.environ.get("TMPDIR", "/tmp")) / f"drill-{uuid.uuid4().hex[:8]}.csv"
        write_contacts_csv(csv, contacts, seed, FIRST_DAY - dt.timedelta(days=DAYS))
        import_contacts(engine, csv, None, source_list="drill", policy=policy, today=FIRST_DAY)
        csv.unlink()
        with DbSession(engine) as db:
            db.add(CallCampaign(name="F1/F2", flow="f1_f2_followup", categories="F1,F2"))
            db.add(CallCampaign(name="returnees", flow="returnee_check", categories="returnee"))
            db.commit()
        worker_env = {**os.environ, **env}
        running: list[subprocess.Popen[bytes]] = []
        if first_workers:
            chain = threading.Thread(target=_one_after_another,
                                     args=(running, first_workers, workers, worker_env, processes))
            chain.start()
        else:
            running.extend(processes.spawn(workers, worker_env))
        connection = redis_connection()
        killer = Killer(running, worker_env, kills, kill_seed, gap, connection, processes)
        started = time.monotonic()
        try:
            if kills:
                killer.start()
            for offset in range(days):
                run_day(engine, connection, queue(DIALER, connection), FIRST_DAY + dt.timedelta(days=offset), policy,
                        patience=300)
            seconds = time.monotonic() - started
        finally:
            killer.stop.set()
            if killer.is_alive():
                killer.join()
            if first_workers:
                chain.join()
            processes.stop(running)
        last = FIRST_DAY + dt.timedelta(days=days - 1)
        report = provincial_report(engine, FIRST_DAY, last, settings.timezone).to_json()
        with DbSession(engine) as db:
            rows = db.exec(select(CallAttempt).where(CallAttempt.direction == "outbound")
                           .order_by(col(CallAttempt.day), col(CallAttempt.phone), col(CallAttempt.attempt_number))).all()
            attempts = [(a.phone, a.day, a.attempt_number, a.dialled_at, a.state, a.answered_at is not None,
                         a.end_reason) for a in rows]
            handed_again = sum(1 for a in rows if a.dispatch > 1)
        stuck = _stuck(engine)
        engine.dispose()
    exits = [p.returncode for p in running[:len(first_workers)]]
    return DrillResult(report, attempts, killer.done, handed_again, stuck, seconds, killer.times, exits,
                       dict(killer.landed))


def _stuck(engine: Engine) -> int:
    """Attempts still active and follow-ups still `calling`: work nobody will finish."""
    with DbSession(engine) as db:
        return db.exec(select(func.count()).select_from(CallAttempt).where(
            col(CallAttempt.state).in_(ACTIVE_CALL_STATES))).one() + db.exec(
            select(func.count()).select_from(FollowUp).where(FollowUp.state == FollowUpState.CALLING)).one()


def _one_after_another(running: list[subprocess.Popen[bytes]], first: Sequence[Sequence[str]], count: int,
                       env: dict[str, str], processes: WorkerProcesses) -> None:
    for argv in first:
        process = subprocess.Popen(list(argv), env=env, cwd=ROOT)
        running.append(process)
        process.wait()
    running.extend(processes.spawn(count, env))


# --- on the real Asterisk ----------------------------------------------------------------------------


@dataclass
class AsteriskDrillResult:
    wrong: dict[tuple[str, int], tuple[object, object]]  # attempts not recorded as the residents' scripts say
    attempts: int  # calls recorded
    expected: int  # calls the scripts say the day makes
    stuck: int  # attempts still active, follow-ups still calling, at the end
    kills: int
    landed: dict[str, int]
    handed_again: int
    seconds: float
    kill_times: list[float]


def _quick_scripts(persons: Sequence[Person], flows: Mapping[str, Flow], day: dt.date, timezone: str, cap: int,
                   seed: int, tries: int = 30) -> dict[str, list[CallScript]]:
    """The residents' scripts from the seed, among `tries` from `seed` on, whose day has the fewest silences
    (each waits out a question's whole time-out on Asterisk): the drill is about the kill, not the calls."""
    def silences(scripts: dict[str, list[CallScript]]) -> int:
        return max(sum(step.keys == "" for script in placed(day_scripts) for step in script.steps)
                   for day_scripts in scripts.values())

    drawn = [campaign_scripts(SimPhoneNetwork({}, seed=s, flows=flows, timezone=timezone, profile="outbreak"),
                              persons, flows, day, cap) for s in range(seed, seed + tries)]
    return min(drawn, key=silences)


def asterisk_campaign(processes: WorkerProcesses, database_url: str, redis_url: str, contacts: int = 12, seed: int = 1, workers: int = 2,
                      kills: int = 1, lease_seconds: int = 2, gap: tuple[float, float] = (1.0, 3.0),
                      kill_seed: int = 1) -> AsteriskDrillResult:
    """One day of a campaign through the real Asterisk in var/asterisk, dialled by RQ worker processes
    (TELEPHONY_BACKEND=asterisk) on the wall clock, the residents' calls drawn beforehand and played by
    dialplan, while `kills` workers are killed with SIGKILL (no replacement: the others carry on)."""
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "QUEUE_PREFIX": f"drill-{uuid.uuid4().hex[:8]}",
        "FLOWS_DIR": str(ROOT / "ivr_flows"), "AUDIO_DIR": str(ROOT / "audio"), "LOG_LEVEL": "ERROR",
        "CALL_LEASE_SECONDS": str(lease_seconds), "TIMEZONE": noon_zone(), "CALL_WINDOW": "00:00-23:59",
        "RETRY_LADDER": "1s", "DAILY_ATTEMPT_CAP": "3", "MAX_CHANNELS": str(contacts), "CALLS_PER_SECOND": "25",
    }
    with _settings(env):
        settings = get_settings()
        policy = policy_from_settings(settings)
        engine = make_engine(database_url)
        upgrade(engine)
        flows = flow_catalog(settings).flows
        day = dt.datetime.now(ZoneInfo(settings.timezone)).date()
        persons = []
        with DbSession(engine) as db:
            for i in range(contacts):
                category = ["F1", "F2", "returnee"][i % 3]
                exposure = day - dt.timedelta(days=1 + i % 6)
                person = Person(f"+8491{i:07d}", "returnee_check" if category == "returnee" else "f1_f2_followup",
                                f"Người thử {i}", category, exposure, "vi")
                persons.append(person)
                db.add(Contact(phone=person.phone, name=person.name, category=category, exposure_date=exposure,
                               monitoring_end=policy.monitoring_end(category, exposure), language="vi",
                               district="Thành phố Huế", commune="Phường Phú Hội"))
            db.add(CallCampaign(name="F1/F2", flow="f1_f2_followup", categories="F1,F2"))
            db.add(CallCampaign(name="Người về", flow="returnee_check", categories="returnee"))
            db.commit()
        scripts = _quick_scripts(persons, flows, day, settings.timezone, policy.daily_attempt_cap, seed)
        handlers = campaign_calls(engine, flows, settings, policy, backend="asterisk")
        world = AsteriskWorld(ROOT, engine, flows, handlers, scripts, ring_timeout=5, amd=True)
        running: list[subprocess.Popen[bytes]] = []
        killer: Killer | None = None
        try:
            world.start()
            layout = world.layout
            worker_env = {**os.environ, **env, "TELEPHONY_BACKEND": "asterisk", "ASTERISK_HOST": "127.0.0.1",
                          "ASTERISK_AMI_PORT": str(layout.ami_port), "ASTERISK_AMI_USER": layout.ami_user,
                          "ASTERISK_AMI_SECRET": layout.ami_secret, "ASTERISK_RING_TIMEOUT": "5",
                          "ASTERISK_DIAL_TEMPLATES": f"default=Local/{{national}}@{RESIDENTS}"}
            running.extend(processes.spawn(workers, worker_env))
            connection = redis_connection()
            # Jobs are short next to the calls (Asterisk carries those): wait longer for a worker in one.
            killer = Killer(running, worker_env, kills, kill_seed, gap, connection, processes, replace=False,
                            busy_wait=5.0)
            started = time.monotonic()
            if kills:
                killer.start()
            run_live_rq_day(engine, connection, queue(DIALER, connection), day, policy,
                            dt.timedelta(seconds=lease_seconds), deadline=300)
            seconds = time.monotonic() - started
        finally:
            if killer is not None:
                killer.stop.set()
                if killer.is_alive():
                    killer.join()
            processes.stop(running)
            world.close()
        recorded = recorded_calls(engine)
        wrong: dict[tuple[str, int], tuple[object, object]] = {
            key: (got, scripted(scripts[key[0]][key[1] - 1])) for key, got in recorded.items()
            if got != scripted(scripts[key[0]][key[1] - 1])}
        expected = sum(len(placed(day_scripts)) for day_scripts in scripts.values())
        with DbSession(engine) as db:
            handed_again = db.exec(select(func.count()).select_from(CallAttempt).where(CallAttempt.dispatch > 1)).one()
        stuck = _stuck(engine)
        engine.dispose()
    assert killer is not None
    return AsteriskDrillResult(wrong, len(recorded), expected, stuck, killer.done, dict(killer.landed), handed_again,
                               seconds, killer.times)
