"""The baseline of bench/asterisk_calls.py: one process per call, a classic AGI script.

Asterisk starts this program for every answered call (``AGI(/path/outbound)``) and speaks AGI over
its stdin and stdout, the pyst2 way.  It runs exactly what `robocall asterisk serve` runs for a call
(the same AgiApplication, IvrCall, flow engine and RecordedCalls writing the call), so the two differ
only in a process per call against one process for every call.  Settings come from the environment
Asterisk inherited from the benchmark: BENCH_DB_URL, BENCH_FLOW_FILE, BENCH_PROMPT; the process's own
CPU time is appended to BENCH_CPU_LOG at the end (Asterisk reaps its AGI children without their
usage reaching its own counters).
"""

from __future__ import annotations

import signal

# Asterisk sends SIGHUP when the channel hangs up; the call is recorded after that.
signal.signal(signal.SIGHUP, signal.SIG_IGN)

import asyncio  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from robocall.conversations.calls import RecordedCalls  # noqa: E402
from robocall.db import make_engine  # noqa: E402
from robocall.flows.loader import load_flow  # noqa: E402
from robocall.telephony.asterisk.agi_app import AgiApplication  # noqa: E402
from robocall.telephony.asterisk.fastagi import AgiChannel, read_environment  # noqa: E402
from simulator.asterisk_residents import Sounds, TonePrompts  # noqa: E402


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    env = await read_environment(reader, 5.0)
    agi = AgiChannel(reader, writer, env, 10.0)
    agi.script = "outbound"  # a classic AGI's request is the script's path
    flow = load_flow(Path(os.environ["BENCH_FLOW_FILE"]))
    engine = make_engine(os.environ["BENCH_DB_URL"])
    handlers = RecordedCalls(engine, {flow.name: flow}, ZoneInfo("Asia/Ho_Chi_Minh"))
    sound = os.environ["BENCH_PROMPT"]
    app = AgiApplication(handlers, TonePrompts(Sounds(sound, sound, sound), {flow.name: flow}), {}, "hotline")
    await app(agi)
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["BENCH_CPU_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{usage.ru_utime + usage.ru_stime:.4f}\n")
