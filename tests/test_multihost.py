"""Several hosts (network namespaces made by the test, simulator/hosts.py): Redis and PostgreSQL on
one, workers on two others, the carriers' SMSC on a fourth; the test process is the app host (the
SMS driver, the dialer's clock).  An SMS campaign and a call campaign give the same figures as on one
host, also when one worker host dies mid-run (its processes killed with SIGKILL), and a call campaign
also when a worker host's cable is pulled mid-run (its veth down: its workers live on, cut off; what
they held is taken over once its lease has run out)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session as DbSession

from robocall.call_policy import policy_from_settings
from robocall.config import get_settings, reset_settings
from robocall.contacts.importer import import_contacts
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.models import CallCampaign
from robocall.queues import DIALER, queue, redis_connection
from robocall.reports import provincial_report
from robocall.worker_main import stop_workers
from simulator.carriers import wait_until
from simulator.clock import run_day
from simulator.contacts import DAYS, write_contacts_csv
from simulator.hosts import Host, NetnsUnavailable, Network, start_postgres, start_redis, temp_dir, wait_port
from sms.campaigns import create_campaign, figures
from sms.context import context_from_settings
from sms.fanout import drive
from sms.prepare import Template
from sms.recipients import csv_recipients
from tests.conftest import TEST_REDIS_DB
from tests.sms.conftest import phones, write_csv

pytestmark = pytest.mark.netns

ROOT = Path(__file__).parents[1]
SMPP_PORT = 2775
FIRST_DAY = dt.date(2021, 8, 11)


class Cluster:
    def __init__(self, network: Network, workdir: Path) -> None:
        self.network = network
        self.db = network.add("db")
        self.workers = [network.add("w1"), network.add("w2")]
        self.carriers = network.add("carriers")
        self.redis_url = start_redis(self.db)
        self.admin_url = start_postgres(self.db, workdir)
        self._databases = 0

    def restart_carriers(self) -> None:
        """A fresh SMSC for each run: it knows messages by our message id, and each run's database
        numbers its messages from 1 again (it would take them for resends and send no receipt)."""
        self.carriers.kill()
        self.carriers.processes.clear()
        self.carriers.spawn([sys.executable, "-m", "simulator.carriers", "--smpp-port", str(SMPP_PORT),
                             "--smpp-host", self.carriers.address, "--http-port", "8081",
                             "--receipt-url", "http://127.0.0.1:1/none", "--secret", "s"], env=os.environ, cwd=ROOT)
        wait_port(self.carriers.address, SMPP_PORT, self.carriers.processes)

    def settings(self, redis_db: int) -> dict[str, str]:
        """A fresh database and Redis DB, and settings pointing at them (the SMS to the SMSC's host)."""
        self._databases += 1
        self.restart_carriers()
        name = f"run{self._databases}"
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        gateway = {"kind": "smpp", "host": self.carriers.address, "port": SMPP_PORT, "system_id": "cdc",
                   "password": "pw", "rate": 2000, "window": 50, "submit_timeout": 10}
        return {
            "DATABASE_URL": self.admin_url.rsplit("/", 1)[0] + f"/{name}",
            "REDIS_URL": self.redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
            "QUEUE_PREFIX": f"mh-{uuid.uuid4().hex[:6]}", "LOG_LEVEL": "WARNING",
            "SMS_QUIET_HOURS": "", "SMS_GATEWAYS": json.dumps({"viettel": gateway}), "SMS_ROUTES": "default=viettel",
            "SMS_BATCH_SIZE": "200", "SMS_SUBMIT_LEASE_SECONDS": "2", "SMS_RETRY_SECONDS": "0",
            "TELEPHONY_BACKEND": "sim", "SIM_SEED": "5", "CALL_LEASE_SECONDS": "2", "FLOWS_DIR": str(ROOT / "ivr_flows"),
            "AUDIO_DIR": str(ROOT / "audio"),
        }

    def start_workers(self, hosts: list[Host], per_host: int, env: dict[str, str]) -> None:
        for host in hosts:
            for _ in range(per_host):
                host.spawn([sys.executable, "-m", "robocall.worker_main"], env={**os.environ, **env}, cwd=ROOT)

    def stop_workers(self) -> None:
        for host in [self.db, *self.workers]:
            workers = [p for p in host.processes if "robocall.worker_main" in p.args]  # type: ignore[operator]
            stop_workers(workers, patience=10)
            host.processes[:] = [p for p in host.processes if p not in workers]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.fail("the multi-host test needs root and iproute2 (`ip netns`); run it as root on Linux")
    workdir = temp_dir()
    try:
        # Named and numbered after the Redis DB of this run, so that parallel runs never share a namespace.
        with Network(prefix=f"rcmh{TEST_REDIS_DB}", subnet=TEST_REDIS_DB) as network:
            yield Cluster(network, workdir)
    except NetnsUnavailable as exc:
        pytest.fail(f"network namespaces are not available here: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _apply(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Engine:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    return engine


def _sms_campaign(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hosts: list[Host],
                  redis_db: int, kill: Host | None) -> dict[str, int]:
    env = cluster.settings(redis_db)
    engine = _apply(env, monkeypatch)
    ctx = context_from_settings(get_settings(), engine)
    path = write_csv(tmp_path / f"list{redis_db}.csv", [["x", n] for n in phones(3000, "098")])
    campaign_id = create_campaign(engine, csv_recipients(path), Template("Thông báo khẩn", False),
                                  ctx.router).campaign_id
    cluster.start_workers(hosts, 2, env)
    killer = None
    if kill is not None:
        def kill_mid_run() -> None:
            wait_until(lambda: figures(engine, campaign_id).by_state.get("queued", 3000) < 2500, timeout=60)
            kill.kill()
        killer = threading.Thread(target=kill_mid_run)
        killer.start()
    try:
        final = drive(ctx, campaign_id)
        assert final.status == "finished" and final.outstanding == 0
        assert wait_until(lambda: ctx.drain_receipts() >= 0 and
                          figures(engine, campaign_id).by_state == {"delivered": 3000}, timeout=45), \
            figures(engine, campaign_id).by_state
        return dict(figures(engine, campaign_id).by_state)
    finally:
        if killer:
            killer.join()
        cluster.stop_workers()
        ctx.close()
        engine.dispose()


def _call_campaign(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hosts: list[Host],
                   redis_db: int, kill: Host | None = None, cut: Host | None = None, per_host: int = 2) -> dict[str, object]:
    """The report of a two-day campaign; `kill` dies after 20 calls, `cut` loses its cable after 40."""
    env = cluster.settings(redis_db)
    engine = _apply(env, monkeypatch)
    settings = get_settings()
    policy = policy_from_settings(settings)
    source = tmp_path / f"contacts{redis_db}.csv"
    write_contacts_csv(source, 40, 5, FIRST_DAY - dt.timedelta(days=DAYS))
    import_contacts(engine, source, None, source_list="mh", policy=policy, today=FIRST_DAY)
    with DbSession(engine) as db:
        db.add(CallCampaign(name="F1/F2", flow="f1_f2_followup", categories="F1,F2"))
        db.add(CallCampaign(name="returnees", flow="returnee_check", categories="returnee"))
        db.commit()
    cluster.start_workers(hosts, per_host, env)
    connection = redis_connection()
    calls_seen = 0
    pending = {20: kill, 40: cut}

    def on_calls(count: int) -> None:
        nonlocal calls_seen
        calls_seen += count
        for at, host in list(pending.items()):
            if calls_seen >= at:
                del pending[at]
                if host is kill and host is not None:
                    host.kill()
                elif host is not None:
                    host.cut()

    try:
        for offset in range(2):
            run_day(engine, connection, queue(DIALER, connection), FIRST_DAY + dt.timedelta(days=offset), policy,
                    on_calls=on_calls)
        report = provincial_report(engine, FIRST_DAY, FIRST_DAY + dt.timedelta(days=1), settings.timezone)
        return report.to_json()
    finally:
        if cut is not None:  # its workers hang on their lost connections: switched off, then the cable back
            cut.kill()
            cut.processes.clear()
            cut.reconnect()
        cluster.stop_workers()
        engine.dispose()


def test_sms_campaign_across_hosts_loses_nothing_when_a_worker_host_dies(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one_host = _sms_campaign(cluster, tmp_path, monkeypatch, [cluster.db], 1, kill=None)
    assert one_host == {"delivered": 3000}
    two_hosts = _sms_campaign(cluster, tmp_path, monkeypatch, cluster.workers, 2, kill=None)
    assert two_hosts == one_host
    w1 = cluster.workers[0]
    survived = _sms_campaign(cluster, tmp_path, monkeypatch, cluster.workers, 3, kill=w1)
    assert survived == one_host


def test_call_campaign_across_hosts_gives_the_one_host_figures(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one_host = _call_campaign(cluster, tmp_path, monkeypatch, [cluster.db], 4, kill=None)
    assert one_host["outbound_calls_f1_f2"]  # something was called
    two_hosts = _call_campaign(cluster, tmp_path, monkeypatch, cluster.workers, 5)
    assert two_hosts == one_host
    # One worker on each host: the first worker host dies after 20 calls, the second loses its cable
    # after 40 (its workers live on, cut off: what they held is taken over once its lease has run out),
    # the db host's worker finishes the campaign.
    w1, w2 = cluster.workers
    survived = _call_campaign(cluster, tmp_path, monkeypatch, [w1, w2, cluster.db], 6, kill=w1, cut=w2, per_host=1)
    w1.processes.clear()
    assert survived == one_host

