"""Benchmark: Twilio's gather webhook under load, one server process on one core.

    .venv/bin/python bench/webhooks.py [--calls 3000] [--seconds 10] [--concurrency 32]
                                       [--database sqlite|postgresql]

The server (a subprocess pinned to one CPU) serves the voice webhooks exactly as `robocall serve`
mounts them, on an SQLite database in a temporary directory (or a throwaway PostgreSQL database at
TEST_POSTGRES_URL's server): every request has its
`X-Twilio-Signature` checked, locks its call's row, runs the flow engine on the stored session,
writes it back and answers TwiML.  The load generator (this process, on another CPU) plays
`--calls` answered calls, `--concurrency` at a time: each posts the gather action the last TwiML
named, signed as Twilio signs it, pressing 1, until the flow hangs up; only gather requests are
measured.  Prompts have no audio in the bench (AUDIO_ENGINE_ORDER empty): TwiML speaks the text.

Three servers in the same run, the same way:
- `ceiling`: a handler that checks the signature, reads the form and answers a fixed `<Gather>`,
  with no session and no database: what aiohttp, form parsing, the signature and TwiML cost by
  themselves, the ceiling any session store could reach (printed for reference);
- `per-webhook` (THE BASELINE of the last line): the same webhooks with one database transaction,
  so one commit, per webhook (group commit off: batches of one), as before group commit;
- `webhooks`: the real handler, group commit on (robocall/conversations/group_commit.py).
Both database modes answer only after their commit (SQLite: WAL, synchronous=FULL).

The last line is per core: gathers answered per CPU-second of the server process (its user + system
time from /proc, the voice URL of each call included), since on a shared machine wall-clock req/s
follow the others' load.  Wall-clock req/s and p50/p99 are printed above it.  `--profile DIR`
samples each server with py-spy (`--gil`: where the CPU goes), as collapsed stacks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token"
ACCOUNT = "AC" + "0" * 31 + "9"
ACTION = re.compile(r'<Gather action="([^"]+)"')


ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://robocall_test:robocall_test@127.0.0.1:5432/postgres")


def env_for(workdir: Path, port: int, database_url: str) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "AUDIO_ENGINE_ORDER": "",
        "AUDIO_DIR": str(workdir / "audio"), "FLOWS_DIR": str(ROOT / "ivr_flows"), "LOG_LEVEL": "ERROR",
    }


def seed(calls: int) -> list[int]:
    """`calls` contacts, each with an attempt Twilio has taken (dialling)."""
    import datetime as dt

    from sqlmodel import Session

    from robocall.config import get_settings
    from robocall.db import make_engine
    from robocall.migrate import upgrade
    from robocall.models import CallAttempt, CallState, Contact

    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    ids = []
    with Session(engine) as db:
        contacts = [Contact(phone=f"+8491{i:07d}", name="Người thử", category="F1",
                            exposure_date=dt.date(2021, 8, 10)) for i in range(calls)]
        db.add_all(contacts)
        db.flush()
        attempts = [CallAttempt(contact_id=c.id, phone=c.phone, flow="f1_f2_followup", day=dt.date(2021, 8, 15),
                                state=CallState.DIALLING, backend="twilio", backend_call_id=f"CA{i:032d}")
                    for i, c in enumerate(contacts)]
        db.add_all(attempts)
        db.commit()
        ids = [a.id for a in attempts if a.id is not None]
    engine.dispose()
    return ids


def serve(port: int, mode: str) -> None:
    os.sched_setaffinity(0, {0})
    from aiohttp import web
    from twilio.request_validator import RequestValidator
    from twilio.twiml.voice_response import VoiceResponse

    from robocall.config import get_settings
    from robocall.gc_tuning import freeze_startup_objects
    from robocall.telephony.twilio.api import PREFIX
    from robocall.telephony.twilio.webhooks import voice_webhooks

    settings = get_settings()
    app = web.Application()
    if mode != "ceiling":
        from robocall.conversations.resumable import ResumableCalls
        from robocall.db import make_engine
        from robocall.flows.catalog import flow_catalog
        from robocall.telephony.twilio.webhooks import HOOKS

        calls = ResumableCalls(make_engine(settings.database_url), flow_catalog(settings).flows, settings.tzinfo)
        hooks_app = voice_webhooks(settings, calls=calls)
        steps = hooks_app[HOOKS].steps
        if mode == "per-webhook":
            steps.max_batch = 1  # one transaction, one commit, per webhook

        async def report(_app: web.Application) -> None:
            print(f"{mode} server: {steps.items} gathers in {steps.batches} commits "
                  f"({steps.items / max(steps.batches, 1):.1f} a commit)", file=sys.stderr, flush=True)

        app.on_shutdown.append(report)
        app.add_subapp(PREFIX, hooks_app)
    else:
        validator = RequestValidator(TOKEN)

        async def fixed(request: web.Request) -> web.Response:
            form = await request.post()
            url = settings.public_base_url + str(request.rel_url)
            if not validator.validate(url, dict(form), request.headers.get("X-Twilio-Signature", "")):
                return web.Response(status=403)
            response = VoiceResponse()
            gather = response.gather(input="dtmf", action=url, method="POST", timeout=5, num_digits=1,
                                     finish_on_key="", action_on_empty_result=False)
            gather.say("Xin mời bấm phím 1 nếu có, phím 2 nếu không.", language="vi-VN")
            response.redirect(url.replace("/gather/", "/silence/"), method="POST")
            return web.Response(text=str(response), content_type="text/xml")

        app.router.add_post(PREFIX + "/{attempt}/answer", fixed)
        app.router.add_post(PREFIX + "/{attempt}/gather/{turn}", fixed)
    freeze_startup_objects()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def load(base: str, attempts: list[int], seconds: float, concurrency: int) -> tuple[int, list[float], int]:
    import aiohttp
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(attempts))
    deadline = time.perf_counter() + seconds

    async def post(session: aiohttp.ClientSession, url: str, params: dict[str, str]) -> tuple[int, str]:
        signature = validator.compute_signature(url, params)
        async with session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as response:
            return response.status, await response.text()

    async def caller(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while queue and time.perf_counter() < deadline:
            attempt = queue.pop()
            params = {"CallSid": f"CA{attempt:032d}", "AccountSid": ACCOUNT, "CallStatus": "in-progress",
                      "From": "+842873000000", "To": "+84910000000", "ApiVersion": "2010-04-01"}
            status, body = await post(session, f"{base}/twilio/voice/{attempt}/answer", params)
            while status == 200 and time.perf_counter() < deadline:
                found = ACTION.search(body)
                if found is None:
                    break  # the flow hung up
                started = time.perf_counter()
                status, body = await post(session, found.group(1).replace("&amp;", "&"), {**params, "Digits": "1"})
                latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(caller(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return round(len(latencies) / elapsed), sorted(latencies), errors


def run(mode: str, calls: int, seconds: float, concurrency: int, database: str,
        profile: str = "") -> tuple[int, float, float, int, int]:
    from simulator.carriers import free_port

    with tempfile.TemporaryDirectory() as tmp, throwaway_database(database, Path(tmp)) as database_url:
        port = free_port()
        env = env_for(Path(tmp), port, database_url)
        os.environ.update(env)
        from robocall.config import reset_settings

        reset_settings()
        attempts = seed(calls)
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), mode], env=env)
        spy = None
        try:
            _wait_for(port)
            if profile:  # py-spy samples the server under load (collapsed stacks, a file a mode)
                spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "500", "--pid", str(server.pid),
                                        "--duration", str(int(seconds)), "--nonblocking", "--gil",
                                        "-o", str(Path(profile) / f"webhooks-{database}-{mode}.txt")],
                                       stdout=subprocess.DEVNULL)
            cpu_before = cpu_seconds(server.pid)
            rate, latencies, errors = asyncio.run(load(f"http://127.0.0.1:{port}", attempts, seconds, concurrency))
            cpu = cpu_seconds(server.pid) - cpu_before
        finally:
            if spy is not None:
                spy.wait(seconds + 30)
            server.send_signal(signal.SIGINT)  # run_app shuts down cleanly and the server reports its commits
            server.wait(20)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    # The machine is shared: the server's own CPU time says what one core would do (the answers
    # each call starts with are in that CPU time too, so this undercounts the gathers a core can take).
    per_cpu = round(len(latencies) / cpu) if cpu > 0 else 0
    print(f"{mode}: {rate} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {len(latencies)} gathers, {errors} errors; "
          f"server CPU {cpu:.1f} s: {per_cpu} gathers per CPU-second", flush=True)
    return rate, p50, p99, errors, per_cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def throwaway_database(database: str, workdir: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"bench_webhooks_{os.getpid()}_{int(time.time() * 1000)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                         {"name": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _wait_for(port: int) -> None:
    import socket

    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="sample each server with py-spy into DIR (collapsed stacks)")
    parser.add_argument("--modes", default="ceiling,per-webhook,webhooks", help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    modes = args.modes.split(",")
    measured = {mode: run(mode, args.calls, args.seconds, args.concurrency, args.database, args.profile)
                for mode in modes}
    missing = (0, 0.0, 0.0, 0, 0)
    ceiling, *_ = measured.get("ceiling", missing)
    baseline, _p50, base_p99, _errors, base_core = measured.get("per-webhook", missing)
    rate, _p50, p99, errors, core = measured.get("webhooks", missing)
    print(f"{args.database} wall clock: ceiling (no database) {ceiling:,} req/s; one commit per webhook {baseline:,} "
          f"req/s, p99 {base_p99:.1f} ms; group commit {rate:,} req/s, p99 {p99:.1f} ms, {errors} errors")
    # The last line counts per core: gathers per CPU-second of the one server process (the machine is
    # shared, so wall-clock req/s move with other people's load; CPU time per request does not).
    print(f"per core (gathers per server CPU-second), {args.database}: group commit vs one commit per webhook")
    print(f"bench webhooks: {core:,} req/s, baseline {base_core:,} req/s, ratio {core / max(base_core, 1):.2f}x")

if __name__ == "__main__":
    main()
