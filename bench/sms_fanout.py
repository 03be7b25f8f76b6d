"""Benchmark: an SMS campaign from a CSV to two local carriers (SMPP and HTTP), receipts recorded.

    .venv/bin/python bench/sms_fanout.py [--recipients 1000000] [--workers 3] [--baseline 3000]

End to end: loading the CSV (normalise, deduplicate, route, measure, bulk insert),
fan-out through RQ (one job per SMS_BATCH_SIZE messages, SimpleWorkers),
submission to a local SMSC (simulator.lightsmsc, or smpp34's server with --smsc
smpp34: Viettel numbers) and a local HTTP
carrier (the rest), and every delivery receipt back in the database (SMPP
deliver_sm, and the HTTP carrier's signed callbacks to sms/web.py).  The clock
stops when every message is `delivered`.  Database: PostgreSQL
(TEST_POSTGRES_URL admin connection; a throwaway database), Redis DB 13 by
default (BENCH_REDIS_DB).

Baseline, in the same run on a sample: one RQ job per message on RQ's default
(forking) Worker, same carriers, same database.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret"


def free_ports(count: int) -> list[int]:
    """`count` different free ports (each socket held until all are chosen: two calls of a one-port
    helper can get the same port back, and the carriers then fail to start)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_listening(ports: list[int], processes: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """Until something accepts connections on every port; stop at once if a process has died."""
    import socket

    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a local carrier or the receipt server did not start (see above)")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"nothing listens on port {port}") from None
                time.sleep(0.1)


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Họ và tên", "Số điện thoại"])
        for i in range(count):
            prefix = "098" if i % 2 == 0 else "091"  # Viettel -> SMPP, Vinaphone -> HTTP
            writer.writerow([f"Người dân {i}", f"{prefix}{i // 2:07d}"])


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children that have ended (PostgreSQL's backends)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU of the whole PostgreSQL server: the postmaster's ended children plus the live processes."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parent = Path(f"/proc/{fields[1]}/comm")
                    postmaster = not parent.exists() or parent.read_text().strip() not in ("postgres", "postmaster")
                    own = sum(int(v) for v in fields[11:13])
                    # the postmaster's cutime/cstime hold its ended backends
                    total += (own + (sum(int(v) for v in fields[13:15]) if postmaster else 0)) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                continue
    return total


def redis_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and (e / "comm").exists() and (e / "comm").read_text().strip() == "redis-server"]


def wait_ready(workers: list[subprocess.Popen[bytes]], redis: object, timeout: float = 60) -> None:
    """Workers are long-running services: start the clock once they are registered with RQ (they
    import the SMS side and build their gateways before that)."""
    from rq import Worker

    deadline = time.monotonic() + timeout
    while Worker.count(connection=redis) < len(workers) and time.monotonic() < deadline:
        time.sleep(0.1)


def driver_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=3000, help="messages in the one-job-per-message baseline")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql",
                        help="a throwaway PostgreSQL database (default) or an SQLite file (the embedded default)")
    parser.add_argument("--smsc", choices=["light", "smpp34"], default="light",
                        help="the local SMSC: simulator.lightsmsc (default) or smpp34's server (~185 us CPU per message)")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    db_name = f"robocall_bench_{uuid.uuid4().hex[:8]}"
    sqlite_dir = tempfile.TemporaryDirectory()
    if args.database == "postgresql":
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{db_name}"'))
        database_url = admin.url.set(database=db_name).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{sqlite_dir.name}/bench.db"
    smpp_port, http_port, web_port = free_ports(3)
    redis_db = os.environ.get("BENCH_REDIS_DB", "13")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}", "QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "SMS_QUIET_HOURS": "", "SMS_BATCH_SIZE": str(args.batch), "SMS_WEBHOOK_SECRET": SECRET,
        "SMS_ROUTES": "Viettel=viettel,default=vnpt", "LOG_LEVEL": "WARNING",
        "SMS_GATEWAYS": (f'{{"viettel": {{"kind": "smpp", "host": "127.0.0.1", "port": {smpp_port}, "rate": 100000,'
                         f' "window": 200}}, "vnpt": {{"kind": "http", "url": "http://127.0.0.1:{http_port}/send",'
                         f' "auth_header": "Authorization", "auth_value": "Bearer carrier-key", "rate": 100000,'
                         f' "batch": 250}}}}'),
    }
    os.environ.update(env)
    from robocall.config import get_settings, reset_settings

    reset_settings()
    from rq import Queue

    from robocall.db import make_engine
    from robocall.gc_tuning import freeze_startup_objects
    from robocall.migrate import upgrade
    from robocall.queues import SMS, queue_name, wait_for_jobs
    from robocall.sms_models import SmsMessage
    from sms.campaigns import LoadSummary, create_campaign, figures
    from sms.context import context_from_settings
    from sms.fanout import send_while_loading
    from sms.prepare import Template
    from sms.recipients import csv_fields, csv_recipients

    engine = make_engine(env["DATABASE_URL"], **({"pool_size": 10} if args.database == "postgresql" else {}))
    upgrade(engine)
    ctx = context_from_settings(get_settings(), engine)
    ctx.redis.flushdb()
    children: list[subprocess.Popen[bytes]] = []
    full_env = {**os.environ, **env}

    def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, *argv], env=full_env, cwd=ROOT)
        children.append(process)
        return process

    carriers = spawn(["-m", "simulator.carriers", "--smpp-port", str(smpp_port), "--http-port", str(http_port),
                      "--receipt-url", f"http://127.0.0.1:{web_port}/sms/receipts/vnpt", "--secret", SECRET,
                      "--smsc", args.smsc])
    web_app = spawn(["-c", "from aiohttp import web; from sms.web import add_sms_routes; app = web.Application(); "
                           "from robocall.gc_tuning import freeze_startup_objects; add_sms_routes(app); "
                           f"freeze_startup_objects(); web.run_app(app, host='127.0.0.1', port={web_port}, print=None)"])
    wait_listening([smpp_port, http_port, web_port], [carriers, web_app])
    template_text = "Ban chỉ đạo phòng chống dịch tỉnh: {{ ho_va_ten }} hãy khai báo y tế tại tokhaiyte.vn"

    def wait_delivered(campaign_id: int, expected: int, timeout: float = 3600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ctx.drain_receipts()
            if figures(engine, campaign_id).by_state.get("delivered", 0) >= expected:
                return
            time.sleep(0.2)
        raise SystemExit(f"receipts missing: {figures(engine, campaign_id).by_state}")

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recipients.csv"
            write_csv(path, args.recipients)
            workers = [spawn(["-m", "robocall.worker_main", "--queue", "sms"]) for _ in range(args.workers)]
            wait_ready(workers, ctx.redis)
            cpu_before = {"postgres": postgres_cpu(), "redis": sum(cpu_seconds(p) for p in redis_pids()),
                          "carriers": cpu_seconds(carriers.pid), "web": cpu_seconds(web_app.pid),
                          "driver": driver_cpu(), **{f"worker {i + 1}": cpu_seconds(w.pid) for i, w in enumerate(workers)}}
            freeze_startup_objects()  # as `robocall sms send` does once it is ready
            started = time.monotonic()
            loaded = started

            def load(**streaming: object) -> LoadSummary:
                nonlocal loaded
                result = create_campaign(engine, csv_recipients(path), Template(template_text, True, csv_fields(path)),
                                         ctx.router, name="bench", **streaming)  # type: ignore[arg-type]
                loaded = time.monotonic()
                return result

            # Sending starts with the first chunk loaded (as `robocall sms send` does).
            summary, _ = send_while_loading(ctx, load)
            sent = time.monotonic()
            wait_delivered(summary.campaign_id, summary.recipients)
            elapsed = time.monotonic() - started
            rate = summary.recipients / elapsed
            peaks = {"driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     **{f"worker {i + 1}": peak_rss_mb(w.pid) for i, w in enumerate(workers)},
                     "carriers (test side)": peak_rss_mb(carriers.pid), "web (receipts)": peak_rss_mb(web_app.pid)}
            cpu_after = {"postgres": postgres_cpu(), "redis": sum(cpu_seconds(p) for p in redis_pids()),
                         "carriers": cpu_seconds(carriers.pid), "web": cpu_seconds(web_app.pid), "driver": driver_cpu(),
                         **{f"worker {i + 1}": cpu_seconds(w.pid) for i, w in enumerate(workers)}}
            used = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
            for w in workers:
                w.terminate()
                w.wait()
            print("CPU seconds: " + ", ".join(f"{k} {v:,.1f}" for k, v in used.items())
                  + f"; total {sum(used.values()):,.1f} = {sum(used.values()) / summary.recipients * 1e6:,.0f} us/message")
            print(f"fan-out: {summary.recipients:,} messages: list loaded after {loaded - started:.1f}s (sending"
                  f" meanwhile), all sent after {sent - started:.1f}s, last receipt {started + elapsed - sent:.1f}s"
                  f" later; {rate:,.0f} msg/s end to end")
            print("peak memory (MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in peaks.items()))

            # Baseline: one job per message, forking Worker.
            sample = Path(tmp) / "sample.csv"
            write_csv(sample, args.baseline)
            base = create_campaign(engine, csv_recipients(sample), Template(template_text, True, csv_fields(sample)),
                                   ctx.router, name="baseline")
            from sqlalchemy import select

            with engine.connect() as connection:
                ids = connection.execute(select(SmsMessage.id).where(
                    SmsMessage.campaign_id == base.campaign_id)).scalars().all()
            from sms.fanout import send_batch_job

            queue = Queue(queue_name(SMS), connection=ctx.redis)
            # Started and registered before the clock, as the workers of the main run.
            forking = [spawn(["-m", "robocall.worker_main", "--queue", "sms", "--fork"]) for _ in range(args.workers)]
            wait_ready(forking, ctx.redis)
            b_started = time.monotonic()
            jobs = queue.enqueue_many([Queue.prepare_data(send_batch_job, args=(base.campaign_id, i, i),
                                                          result_ttl=600) for i in ids])
            wait_for_jobs([j.id for j in jobs], ctx.redis, timeout=24 * 3600.0, poll=0.05)
            # Until every message is taken by its carrier: a forked job's process is gone before most of
            # its receipts arrive (the SMSC keeps them for the next bind), so the baseline is not held to them.
            taken = figures(engine, base.campaign_id).by_state
            assert taken.get("accepted", 0) + taken.get("delivered", 0) == base.recipients, taken
            b_rate = base.recipients / (time.monotonic() - b_started)
            for w in forking:
                w.terminate()
                w.wait()
            print(f"baseline: {base.recipients:,} messages, one RQ job each on forking Workers: {b_rate:,.0f} msg/s")
            print(f"bench sms_fanout: {rate:,.0f} msg/s, baseline {b_rate:,.0f} msg/s, ratio {rate / b_rate:.1f}x")
    finally:
        for process in children:
            if process.poll() is None:
                process.terminate()
        for process in children:
            process.wait(timeout=30)
        ctx.redis.flushdb()
        engine.dispose()
        sqlite_dir.cleanup()
        if args.database == "postgresql":
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                                   {"n": db_name})
                connection.execute(text(f'DROP DATABASE IF EXISTS "{db_name}"'))


if __name__ == "__main__":
    main()
