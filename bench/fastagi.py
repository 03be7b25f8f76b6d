"""FastAGI server under many concurrent calls: command turnaround at 1,000 sessions at once.

A client process speaks AGI as Asterisk does: it opens every connection at once, sends the AGI
environment, and answers each command after a short random "playing" delay.  Turnaround is the
time from the client's answer to the next command arriving: the server's own delay, queueing
included.  Baseline in the same run: a thread-per-connection server with blocking reads (the
pyst2 / socketserver style), running the same session.

    .venv/bin/python bench/fastagi.py [--sessions 1000] [--commands 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import resource
import socket
import socketserver
import statistics
import threading
import time

from robocall.telephony.asterisk.fastagi import AgiChannel, FastAgiServer

ENV = (b"agi_network: yes\nagi_network_script: outbound\nagi_request: agi://127.0.0.1/outbound\n"
       b"agi_channel: SIP/trunk-00000001\nagi_callerid: 0912345678\nagi_uniqueid: 1.1\n\n")
COMMANDS = ["ANSWER", "GET VARIABLE ROBOCALL_ATTEMPT", "STREAM FILE \"prompt\" \"0123456789*#\"",
            "GET DATA \"question\" 6000 1", "WAIT FOR DIGIT 6000"]


def command(i: int) -> str:
    return COMMANDS[i % len(COMMANDS)]


async def async_session(agi: AgiChannel, commands: int) -> None:
    for i in range(commands):
        await agi.command(command(i))


def blocking_session(rfile, wfile, commands: int) -> None:  # type: ignore[no-untyped-def]
    while rfile.readline().strip():  # the environment
        pass
    for i in range(commands):
        wfile.write((command(i) + "\n").encode())
        wfile.flush()
        if not rfile.readline().startswith(b"200"):
            return


# --- the client (another process), like Asterisk -------------------------------------------------

async def one_call(port: int, commands: int, delays: tuple[float, float], samples: list[float],
                   start: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await start.wait()
    writer.write(ENV)
    await writer.drain()
    line = await reader.readline()  # the first command
    while line:
        await asyncio.sleep(random.uniform(*delays))  # the prompt plays, the caller presses a key
        writer.write(b"200 result=0\n")
        await writer.drain()
        sent = time.perf_counter()
        line = await reader.readline()  # the next command, or the end of the session
        if line:
            samples.append(time.perf_counter() - sent)
    writer.close()


async def client_main(port: int, sessions: int, commands: int, delays: tuple[float, float]) -> list[float]:
    samples: list[float] = []
    start = asyncio.Event()
    tasks = [asyncio.create_task(one_call(port, commands, delays, samples, start)) for _ in range(sessions)]
    await asyncio.sleep(0.5)  # every connection open before the first environment
    start.set()
    await asyncio.gather(*tasks)
    return samples


def client(port: int, sessions: int, commands: int, delays: tuple[float, float], out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(client_main(port, sessions, commands, delays)))


def drive(port: int, sessions: int, commands: int, delays: tuple[float, float]) -> tuple[list[float], float]:
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    began = time.perf_counter()
    proc = mp.Process(target=client, args=(port, sessions, commands, delays, out))
    proc.start()
    samples = out.get()
    proc.join()
    return samples, time.perf_counter() - began


# --- the servers ---------------------------------------------------------------------------------

def run_async_server(sessions: int, commands: int, delays: tuple[float, float]) -> tuple[list[float], float, float]:
    async def main() -> tuple[list[float], float, float]:
        server = FastAgiServer(lambda agi: async_session(agi, commands), "127.0.0.1", 0)
        await server.start()
        cpu0 = time.process_time()
        samples, wall = await asyncio.to_thread(drive, server.port, sessions, commands, delays)
        cpu = time.process_time() - cpu0
        await server.close()
        return samples, wall, cpu

    return asyncio.run(main())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 1024  # the same backlog as the asyncio server (read by the constructor)


class _Handler(socketserver.StreamRequestHandler):
    commands = 20

    def handle(self) -> None:
        blocking_session(self.rfile, self.wfile, self.commands)


def run_threaded_server(sessions: int, commands: int, delays: tuple[float, float]) -> tuple[list[float], float, float]:
    _Handler.commands = commands
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cpu0 = time.process_time()
    samples, wall = drive(server.server_address[1], sessions, commands, delays)
    cpu = time.process_time() - cpu0
    server.shutdown()
    server.server_close()
    return samples, wall, cpu


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, nargs=2, default=(20.0, 200.0),
                        help="how long the fake Asterisk takes to answer a command (random between)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.sessions + 256)), hard))
    socket.setdefaulttimeout(None)
    delays = (args.delay_ms[0] / 1000, args.delay_ms[1] / 1000)
    results = {}
    for name, run in (("asyncio", run_async_server), ("threads", run_threaded_server)):
        samples, wall, cpu = run(args.sessions, args.commands, delays)
        results[name] = p(samples, 0.99)
        print(f"{name}: {args.sessions} sessions x {args.commands} commands in {wall:.1f} s; turnaround "
              f"p50 {p(samples, 0.5):.2f} ms, p99 {p(samples, 0.99):.2f} ms, max {max(samples) * 1000:.1f} ms; "
              f"server CPU {cpu:.2f} s ({cpu / (args.sessions * args.commands) * 1e6:.0f} us a command)")
    print(f"bench fastagi: {results['asyncio']:.2f} ms p99 command turnaround at {args.sessions} sessions, "
          f"baseline {results['threads']:.2f} ms p99 (thread per connection), "
          f"ratio {results['threads'] / results['asyncio']:.1f}x")


if __name__ == "__main__":
    main()
