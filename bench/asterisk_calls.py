"""Simultaneous calls through one real Asterisk: our FastAGI server against a process per call.

A real Asterisk (var/asterisk, `make setup`) on loopback, with dialplan residents (simulator/
asterisk_residents.py) who pick up at once, answer the short flow's two questions when the robot
speaks (1, then 385#) and stay on the line until it hangs up.  Every call is originated at once through
the dialer's AsteriskBackend (AMI); the prompts are 0.8 s tones.  Timed from the first Originate until
every call is written in the database (SQLite), and each call is checked: completed, fever yes,
38.5, the urgent escalation.

* ours: `AsteriskService` (the FastAGI server and AMI listener of `robocall asterisk serve`) in its own
  process, every call in it;
* baseline, in the same run: a classic AGI script per call (`AGI(/path/outbound)`, Asterisk starts a
  Python process per answered call speaking AGI over stdin/stdout, the pyst2 way), running the same
  code for the call (bench/asterisk_agi_script.py).

CPU of the AGI side: /proc of the serve process (ours), each script's own usage at its end (baseline).
The headline is that CPU per call: both finish when the last scripted call does, so calls/s mostly
measures the residents' script, and a process per call is run with fewer calls at once (each Python
process with the project imported takes ~70 MB).

    .venv/bin/python bench/asterisk_calls.py [--calls 200] [--baseline-calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import resource
import signal
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session as DbSession  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from robocall.conversations.calls import RecordedCalls  # noqa: E402
from robocall.db import make_engine  # noqa: E402
from robocall.flows.loader import load_flow  # noqa: E402
from robocall.migrate import upgrade  # noqa: E402
from robocall.models import Answer, CallAttempt, CallState, Contact, Escalation  # noqa: E402
from robocall.telephony.asterisk.backend import live_attempt_ids  # noqa: E402
from robocall.telephony.asterisk.service import AsteriskService, ServiceConfig  # noqa: E402
from robocall.telephony.base import CallRequest  # noqa: E402
from simulator.asterisk_residents import Sounds, TonePrompts  # noqa: E402
from simulator.asterisk_world import AsteriskWorld  # noqa: E402
from simulator.scripts import CallScript, Step  # noqa: E402

FLOW_FILE = ROOT / "bench" / "flows" / "short_call.yaml"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SCRIPT = CallScript(CallState.ANSWERED, 0.0, (Step("1", "1"), Step("385#", "385")))
EXPECTED = ("completed", "completed", (("fever", True), ("temperature", 38.5)), ("sot_cao",))
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    calls: int
    wall: float
    cpu: float
    right: int
    peak: int

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.calls * 1000


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (0-based after the command name)


def add_attempts(engine: Engine, phones: list[str], flow: str) -> list[int]:
    ids = []
    with DbSession(engine) as db:
        for phone in phones:
            contact = Contact(phone=phone, name="Người thử", language="vi")
            db.add(contact)
            db.flush()
            attempt = CallAttempt(contact_id=contact.id, phone=phone, flow=flow, day=dt.date.today(),
                                  state=CallState.QUEUED, caller_id="02343822000")
            db.add(attempt)
            db.flush()
            assert attempt.id is not None
            ids.append(attempt.id)
        db.commit()
    return ids


def ended(engine: Engine, ids: list[int]) -> int:
    with DbSession(engine) as db:
        return len(db.exec(select(CallAttempt.id).where(col(CallAttempt.id).in_(ids),
                                                        col(CallAttempt.ended_at).is_not(None))).all())


def right_calls(engine: Engine, ids: list[int]) -> int:
    right = 0
    with DbSession(engine) as db:
        for attempt in db.exec(select(CallAttempt).where(col(CallAttempt.id).in_(ids))).all():
            answers = tuple(sorted((a.question, a.value) for a in db.exec(
                select(Answer).where(Answer.attempt_id == attempt.id))))
            rules = tuple(sorted(e.rule for e in db.exec(select(Escalation).where(Escalation.attempt_id == attempt.id))))
            right += (str(attempt.state), attempt.end_reason, answers, rules) == EXPECTED
    return right


def serve(config: ServiceConfig, db_url: str, prompt: str, ready: mp.Event, stop: mp.Event) -> None:  # type: ignore[valid-type]
    """Our side, in a process of its own: `robocall asterisk serve`'s service for the short flow."""
    async def main() -> None:
        flow = load_flow(FLOW_FILE)
        engine = make_engine(db_url)
        handlers = RecordedCalls(engine, {flow.name: flow}, TZ)
        service = AsteriskService(config, handlers, TonePrompts(Sounds(prompt, prompt, prompt), {flow.name: flow}))
        await service.start()
        await service.ami.wait_ready(30)
        ready.set()  # type: ignore[attr-defined]
        await asyncio.to_thread(stop.wait)  # type: ignore[attr-defined]
        await service.close()

    asyncio.run(main())


def agi_script(folder: Path) -> Path:
    """The classic AGI program Asterisk starts per call: ${ROBOCALL_AGI}/outbound."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "outbound"
    script.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.path[:0] = [{str(ROOT)!r}]\n"
                      f"runpy.run_path({str(ROOT / 'bench' / 'asterisk_agi_script.py')!r}, run_name='__main__')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def run(mode: str, calls: int, work: Path) -> Result:
    db_url = f"sqlite:///{work / f'{mode}.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    flow = load_flow(FLOW_FILE)
    phones = [f"+8491{i:07d}" for i in range(calls)]
    ids = add_attempts(engine, phones, flow.name)
    handlers = RecordedCalls(engine, {flow.name: flow}, TZ)  # the dialer's: fails a call it cannot place
    agi_url = str(agi_script(work / "agi")) if mode == "baseline" else ""
    world = AsteriskWorld(ROOT, engine, {flow.name: flow}, handlers, {p: [SCRIPT] for p in phones},
                          ring_timeout=60, amd=False, serve=False, agi_url=agi_url)
    cpu_log = work / f"{mode}-cpu.log"
    os.environ.update({"BENCH_DB_URL": db_url, "BENCH_FLOW_FILE": str(FLOW_FILE), "BENCH_PROMPT": world.sounds.prompt,
                       "BENCH_CPU_LOG": str(cpu_log)})
    server: mp.Process | None = None  # type: ignore[name-defined]
    stop = mp.get_context("fork").Event()
    try:
        backend = world.start()
        if mode == "ours":
            ready = mp.get_context("fork").Event()
            server = mp.get_context("fork").Process(target=serve, args=(world.config, db_url, world.sounds.prompt,
                                                                        ready, stop))
            server.start()
            if not ready.wait(60):
                raise TimeoutError("the serve process did not start")

        def cpu() -> float:
            if server is not None:
                return cpu_seconds(server.pid)
            return sum(float(line) for line in cpu_log.read_text().split()) if cpu_log.exists() else 0.0

        cpu0 = cpu()
        began = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        for attempt_id, phone in zip(ids, phones, strict=True):
            backend.place_call(CallRequest(attempt_id, phone, "02343822000", now, flow.name))
        peak, last_poll = 0, 0.0
        while ended(engine, ids) < calls:
            if time.perf_counter() - began > 900:
                raise TimeoutError(f"{calls - ended(engine, ids)} calls still open after 900 s")
            if time.perf_counter() - last_poll > 1.0:
                live = backend.ami.call(live_attempt_ids(backend.ami.client), timeout=30)
                peak, last_poll = max(peak, len(live)), time.perf_counter()
            time.sleep(0.2)
        wall = time.perf_counter() - began
        used = cpu() - cpu0
    finally:
        stop.set()
        if server is not None:
            server.join(30)
        world.close()
    return Result(calls, wall, used, right_calls(engine, ids), peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls at once through our FastAGI server")
    parser.add_argument("--baseline-calls", type=int, default=20, help="calls at once with a process per call")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups: Asterisk stopped by its pid
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8 * args.calls + 1024)), hard))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-ast-") as folder:
        for mode, calls in (("ours", args.calls), ("baseline", args.baseline_calls)):
            result = run(mode, calls, Path(folder))
            results[mode] = result
            print(f"{mode}: {result.calls} calls, at most {result.peak} on the lines at once, all written in "
                  f"{result.wall:.1f} s ({result.rate:.1f} calls/s); {result.right}/{result.calls} recorded right; "
                  f"AGI side CPU {result.cpu:.2f} s ({result.cpu_ms:.1f} ms a call); load average "
                  f"{os.getloadavg()[0]:.2f}")
    ours, base = results["ours"], results["baseline"]
    if ours.right != ours.calls or base.right != base.calls:
        print("some calls were not recorded as the residents answered", file=sys.stderr)
    print(f"bench asterisk_calls: {ours.cpu_ms:.1f} ms AGI CPU per call, baseline {base.cpu_ms:.1f} ms AGI CPU per "
          f"call, ratio {base.cpu_ms / ours.cpu_ms:.1f}x")


if __name__ == "__main__":
    main()
