"""SMS drills: a campaign through real RQ workers, Redis, a database and local carriers while something
fails on purpose, then the figures that say whether anything was lost, sent twice or left stuck.

- kills: SIGKILL a random worker at random moments (by progress); a supervisor restarts any worker that
  ended, 2 s later, as systemd does (deploy/systemd/robocall-worker@.service: Restart=always);
- Redis restarts: the drill's own redis-server (loopback, append-only file as docs/deploy.md advises)
  stopped and started again on the same port;
- PostgreSQL restarts: the drill's own cluster (simulator/hosts.py) restarted with a fast shutdown
  (`pg_ctl restart`'s: every client connection cut);
- carriers: `vnpt` (HTTP) fails a share of its requests (HTTP 500, 429 and answers after the
  client's timeout), `mobifone` (SMPP) is switched off for a while; `viettel` (SMPP) is healthy.

Used by bench/sms_drills.py (the full size: 100,000 messages, 20 kills...) and tests/sms/test_drills.py
(small versions).  Never touches the machine's Redis or PostgreSQL: both are started here, on free ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiohttp import ClientSession, web
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import select

from robocall.config import get_settings, reset_settings
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.queues import SMS
from robocall.sms_models import SmsMessage
from simulator.carriers import LocalHttpCarrier, LocalSmsc, LoopThread, wait_until
from simulator.hosts import (
    Service,
    create_postgres_database,
    free_port,
    local_host,
    postgres_service,
    redis_service,
    temp_dir,
)
from sms.campaigns import create_campaign, figures
from sms.context import SmsContext, context_from_settings
from sms.fanout import drive
from sms.prepare import Template
from sms.recipients import Recipient
from sms.web import add_sms_routes

ROOT = Path(__file__).parents[1]
SECRET = "drill-secret"
# Viettel (098) -> viettel (SMPP, healthy), Vinaphone (091) -> vnpt (HTTP, flaky), MobiFone (090) -> mobifone
# (SMPP, switched off for a while in the carrier drill).
PREFIXES = ("098", "091", "090")


@dataclass
class Drill:
    name: str
    messages: int = 3000
    workers: int = 2
    kills: int = 0
    redis_restarts: int = 0
    postgres_restarts: int = 0
    down_seconds: float = 1.0  # Redis or PostgreSQL stays down this long at each restart
    flaky_share: float = 0.0  # of vnpt's requests: half HTTP 500, a quarter 429, a quarter too late
    carrier_down_seconds: float = 0.0  # mobifone switched off this long
    database: str = "sqlite"  # or "postgresql": the drill's own cluster (always so with postgres_restarts)
    lease_seconds: int = 5  # SMS_SUBMIT_LEASE_SECONDS: a dead worker's claims are due again after it
    restart_delay: float = 2.0  # a worker that ended is started again after this (systemd's RestartSec=2s)
    circuit_seconds: int = 3  # SMS_CIRCUIT_SECONDS: a failing carrier rests this long
    max_attempts: int = 6
    batch_size: int = 500
    rate: float = 3000  # each carrier's msg/s
    seed: int = 7


@dataclass
class DrillResult:
    drill: Drill
    by_state: dict[str, int]
    failed_reasons: Counter[str]
    taken: int  # distinct messages the carriers took
    duplicates: int  # messages a carrier took more than once (would reach the phone twice)
    resent: int  # resends a carrier recognised by our id (sent once on the wire, not to the phone twice)
    lost: int  # messages neither taken by a carrier nor failed with a reason
    stuck: int  # messages still queued, submitted or accepted without a receipt at the end
    run_seconds: float  # from the first message queued to the last receipt
    disruptions: list[str] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)  # seconds from a service back up to sending again
    worker_exits: int = 0  # workers that ended without being killed by the drill (restarted by the supervisor)
    pauses: dict[str, int] = field(default_factory=dict)  # per gateway: times its circuit opened
    paused_seconds: dict[str, float] = field(default_factory=dict)  # per gateway: time its circuit stayed open
    resumed_after: float | None = None  # seconds from mobifone back up to its first message taken
    sent_during_outage: dict[str, int] = field(default_factory=dict)  # per other carrier, while mobifone was down
    troubles: dict[str, int] = field(default_factory=dict)  # vnpt's requests answered 500/429/too late

    def line(self) -> str:
        d = self.drill
        return (f"{d.name}: {d.messages:,} messages, {len(self.disruptions)} disruptions; final {self.by_state};"
                f" taken {self.taken:,}, duplicates {self.duplicates}, lost {self.lost}, stuck {self.stuck},"
                f" resent (recognised by id) {self.resent}; {self.run_seconds:.1f} s")


class Supervisor:
    """Worker processes kept at a count, as systemd does: one that ends is started again after `delay`."""

    def __init__(self, count: int, env: dict[str, str], log_file: IO[bytes] | None = None,
                 delay: float = 2.0) -> None:
        self.env, self.log_file, self.delay = env, log_file, delay
        self.processes: list[subprocess.Popen[bytes]] = []
        self.killed: set[int] = set()
        self.unplanned_exits = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for _ in range(count):
            self.processes.append(self._spawn())
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Their logs go to one file (a restart drill makes every worker log its errors).
        return subprocess.Popen([sys.executable, "-m", "robocall.worker_main", "--queue", SMS], env=self.env,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log_file)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                ended = [p for p in self.processes if p.poll() is not None]
            for process in ended:
                if process.pid not in self.killed:
                    self.unplanned_exits += 1
                if self._stop.wait(self.delay):
                    return
                with self._lock:
                    if self._stop.is_set():  # stop() already has the list: nothing new after it
                        return
                    self.processes[self.processes.index(process)] = self._spawn()

    def kill_one(self, rng: random.Random) -> int:
        with self._lock:
            alive = [p for p in self.processes if p.poll() is None]
            victim = rng.choice(alive)
            self.killed.add(victim.pid)
            victim.send_signal(signal.SIGKILL)
        return victim.pid

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            processes = list(self.processes)
        self._thread.join(10)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def recipients(count: int) -> Iterator[Recipient]:
    """`count` numbers, the three carriers in turn."""
    for i in range(count):
        yield Recipient(i + 2, f"{PREFIXES[i % 3]}{i // 3:07d}", {"ho_va_ten": f"Người dân {i}"})


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ (this process's settings) for the drill, the old ones back after."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    reset_settings()
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


class _Run:
    """One drill's world: services, carriers, the receipts' web app, workers; everything stopped on exit."""

    def __init__(self, drill: Drill, log: Callable[[str], None]) -> None:
        self.drill, self.log = drill, log
        self.rng = random.Random(drill.seed)
        self.workdir = temp_dir()
        self.services: list[Service] = []
        self.carriers: list[LocalSmsc | LocalHttpCarrier] = []
        self.supervisor: Supervisor | None = None
        self.web: tuple[LoopThread, web.AppRunner, ClientSession] | None = None
        self.done = threading.Event()
        self.pauses: dict[str, int] = {}
        self.paused_seconds: dict[str, float] = {}

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.worker_log.close()
        for carrier in self.carriers:
            carrier.stop()
        if self.web is not None:
            loop, runner, session = self.web
            loop.close_web(runner, session)
        for service in reversed(self.services):
            service.stop(signal.SIGINT)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self) -> dict[str, str]:
        drill, host = self.drill, local_host()
        (self.workdir / "redis").mkdir()
        self.redis = redis_service(host, free_port(), self.workdir / "redis").start()
        self.services.append(self.redis)
        self.postgres: Service | None = None
        if drill.database == "postgresql" or drill.postgres_restarts:
            self.postgres = postgres_service(host, self.workdir, free_port()).start()
            self.services.append(self.postgres)
            database_url = create_postgres_database(self.postgres, self.workdir)
        else:
            database_url = f"sqlite:///{self.workdir / 'drill.db'}"
        self.viettel = LocalSmsc(engine="light", record=False).start()
        self.carriers.append(self.viettel)
        self.mobifone = LocalSmsc(engine="light", record=False).start()
        self.carriers.append(self.mobifone)
        self.web_port = free_port()
        share = drill.flaky_share
        self.vnpt = LocalHttpCarrier(record=False, fail_rate=share / 2, throttle_rate=share / 4,
                                     hang_rate=share / 4, seed=drill.seed, receipt_secret=SECRET,
                                     receipt_url=f"http://127.0.0.1:{self.web_port}/sms/receipts/vnpt").start()
        self.carriers.append(self.vnpt)
        gateways = {"viettel": self.viettel.gateway_config(rate=drill.rate, window=100, submit_timeout=5),
                    "vnpt": self.vnpt.gateway_config(rate=drill.rate, batch=100, timeout=1.0),
                    "mobifone": self.mobifone.gateway_config(rate=drill.rate, window=100, submit_timeout=5)}
        return {
            "DATABASE_URL": database_url, "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "QUEUE_PREFIX": f"drill-{uuid.uuid4().hex[:6]}", "LOG_LEVEL": "ERROR", "SMS_QUIET_HOURS": "",
            "SMS_GATEWAYS": json.dumps(gateways), "SMS_ROUTES": "Viettel=viettel,MobiFone=mobifone,default=vnpt",
            "SMS_BATCH_SIZE": str(drill.batch_size), "SMS_SUBMIT_LEASE_SECONDS": str(drill.lease_seconds),
            "SMS_RETRY_SECONDS": "1", "SMS_MAX_ATTEMPTS": str(drill.max_attempts),
            "SMS_CIRCUIT_SECONDS": str(drill.circuit_seconds), "SMS_WEBHOOK_SECRET": SECRET,
        }

    def serve_receipts(self) -> None:
        """The carrier callbacks (sms/web.py) for vnpt's receipts, in a thread of this process."""
        app = web.Application()
        add_sms_routes(app)
        loop = LoopThread()
        runner, session = loop.call(LoopThread.serve(app, self.web_port))
        self.web = (loop, runner, session)

    def taken(self) -> int:
        return sum(len(c.accepted_ids) for c in self.carriers)

    def run(self) -> DrillResult:
        drill = self.drill
        env = self.start()
        with environment(env):
            engine = make_engine(env["DATABASE_URL"])
            upgrade(engine)
            ctx = context_from_settings(get_settings(), engine)
            self.serve_receipts()
            self.worker_log = (self.workdir / "workers.log").open("ab")
            self.supervisor = Supervisor(drill.workers, {**os.environ, **env}, self.worker_log,
                                         drill.restart_delay)
            wait_until(lambda: Worker.count(connection=ctx.redis) >= drill.workers, timeout=60)
            campaign_id = create_campaign(engine, recipients(drill.messages),
                                          Template("Sở Y tế: {{ ho_va_ten }} khai báo y tế tại tokhaiyte.vn", True,
                                                   {"ho_va_ten"}), ctx.router, name=drill.name).campaign_id
            disruptor = threading.Thread(target=self.disrupt, daemon=True)
            watcher = threading.Thread(target=self.watch_circuits, args=(ctx,), daemon=True)
            started = time.monotonic()
            self.started = started
            disruptor.start()
            watcher.start()
            drive(ctx, campaign_id)
            disruptor.join()
            self.done.set()
            watcher.join()
            self.finish(ctx, campaign_id)
            run_seconds = time.monotonic() - started
            return self.result(ctx, campaign_id, run_seconds)

    def watch_circuits(self, ctx: SmsContext) -> None:
        """Each gateway's circuit (sms/throttle.py's Breaker, in Redis) looked at every 0.1 s."""
        breakers = {name: ctx.breaker(name) for name in ctx.gateway_config}
        opened_at: dict[str, float] = {}
        while not self.done.wait(0.1):
            for name, breaker in breakers.items():
                try:
                    paused = breaker.open_for() > 0
                except RedisError:  # the Redis drill
                    continue
                if paused and name not in opened_at:
                    opened_at[name] = time.monotonic()
                    self.pauses[name] = self.pauses.get(name, 0) + 1
                elif not paused and name in opened_at:
                    self.paused_seconds[name] = (self.paused_seconds.get(name, 0.0)
                                                 + time.monotonic() - opened_at.pop(name))

    # --- disruptions, at random moments of the campaign's progress ---

    def moments(self, count: int) -> list[float]:
        return sorted(self.rng.uniform(0.05, 0.85) for _ in range(count))

    def wait_progress(self, share: float) -> None:
        target = share * self.drill.messages
        wait_until(lambda: self.taken() >= target, timeout=3600)

    def disrupt(self) -> None:
        drill = self.drill
        plan = [(at, "kill") for at in self.moments(drill.kills)]
        plan += [(at, "redis") for at in self.moments(drill.redis_restarts)]
        plan += [(at, "postgres") for at in self.moments(drill.postgres_restarts)]
        plan += [(at, "carrier") for at in self.moments(1 if drill.carrier_down_seconds else 0)]
        self.disruptions: list[str] = []
        self.recoveries: list[float] = []
        for at, what in sorted(plan):
            self.wait_progress(at)
            moment = f"{what} at {self.taken():,} taken, {time.monotonic() - self.started:.1f} s"
            if what == "kill":
                assert self.supervisor is not None
                self.supervisor.kill_one(self.rng)
            elif what in ("redis", "postgres"):
                service = self.redis if what == "redis" else self.postgres
                assert service is not None
                service.restart(drill.down_seconds, signal.SIGTERM if what == "redis" else signal.SIGINT)
                self.recoveries.append(self.sending_again())
            else:
                self.carrier_outage()
            self.disruptions.append(moment)
            self.log(moment)

    def sending_again(self) -> float:
        """Seconds until the carriers take a message again (or all are taken)."""
        back, before = time.monotonic(), self.taken()
        wait_until(lambda: self.taken() > before or self.taken() >= self.drill.messages, timeout=600)
        return time.monotonic() - back

    def carrier_outage(self) -> None:
        drill = self.drill
        others = {"viettel": self.viettel, "vnpt": self.vnpt}
        before = {name: len(c.accepted_ids) for name, c in others.items()}
        self.mobifone.go_down()
        time.sleep(drill.carrier_down_seconds)
        self.sent_during_outage = {name: len(c.accepted_ids) - before[name] for name, c in others.items()}
        self.mobifone.come_back()
        back, taken = time.monotonic(), len(self.mobifone.accepted_ids)
        wait_until(lambda: len(self.mobifone.accepted_ids) > taken or taken >= drill.messages // 3, timeout=600)
        self.resumed_after = time.monotonic() - back

    # --- the end ---

    def finish(self, ctx: SmsContext, campaign_id: int) -> None:
        """Until every message the carriers took has its receipt (or 60 s pass: then some are stuck)."""
        def settled() -> bool:
            ctx.drain_receipts()
            return figures(ctx.engine, campaign_id).by_state.get("accepted", 0) == 0
        wait_until(settled, timeout=60)

    def result(self, ctx: SmsContext, campaign_id: int, run_seconds: float) -> DrillResult:
        final = figures(ctx.engine, campaign_id)
        with ctx.engine.connect() as connection:
            rows = connection.execute(select(SmsMessage.id, SmsMessage.state, SmsMessage.reason).where(
                SmsMessage.campaign_id == campaign_id)).all()
        taken_ids: Counter[str] = Counter()  # our id -> times taken, over every carrier
        for carrier in self.carriers:
            taken_ids.update(carrier.accepted_ids)
        resent = sum(sum(carrier.resent_ids.values()) for carrier in self.carriers)
        failed = Counter(_reason(reason) for _, state, reason in rows if state == "failed")
        lost = sum(1 for mid, state, _ in rows if state != "failed" and str(mid) not in taken_ids)
        stuck = sum(1 for _, state, _ in rows if state in ("queued", "submitted", "accepted"))
        assert self.supervisor is not None
        return DrillResult(
            self.drill, dict(final.by_state), failed, len(taken_ids),
            sum(1 for times in taken_ids.values() if times > 1), resent, lost, stuck,
            run_seconds, self.disruptions, self.recoveries, self.supervisor.unplanned_exits,
            pauses=self.pauses, paused_seconds={k: round(v, 1) for k, v in self.paused_seconds.items()},
            resumed_after=getattr(self, "resumed_after", None),
            sent_during_outage=getattr(self, "sent_during_outage", {}), troubles=dict(self.vnpt.troubles))


def _reason(reason: str) -> str:
    """A failure's reason without what differs per message (the try count stays)."""
    return reason.split(" (", 1)[0][:80]


def run_drill(drill: Drill, log: Callable[[str], None] = lambda line: None) -> DrillResult:
    with _Run(drill, log) as run:
        return run.run()
