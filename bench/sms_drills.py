"""SMS drills at full size: workers killed, Redis and PostgreSQL restarted, carriers failing, during a campaign.

    .venv/bin/python bench/sms_drills.py [--messages 100000] [--kills 20] [--workers 3] [--only kill,redis,...]

Each drill (simulator/sms_drills.py) starts its own Redis and PostgreSQL on free loopback ports (never the
machine's), three local carriers and the workers, sends one campaign, and prints what the carriers took
by message id against what the database says.  The undisturbed run of the same campaign is measured first,
in the same invocation, as the baseline of the run times.  Needs PostgreSQL's server binaries
(/usr/lib/postgresql/*/bin) and redis-server; as root, PostgreSQL runs as the postgres user.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from simulator.sms_drills import Drill, DrillResult, run_drill  # noqa: E402


def drills(args: argparse.Namespace) -> list[Drill]:
    common = {"messages": args.messages, "workers": args.workers, "database": args.database,
              "rate": args.rate, "seed": args.seed}
    made = {
        "baseline": Drill("undisturbed", **common),
        "kill": Drill(f"kill -9 a worker x{args.kills}", kills=args.kills, **common),
        "redis": Drill("Redis restarted", redis_restarts=args.restarts, down_seconds=args.down, **common),
        "postgres": Drill("PostgreSQL restarted", postgres_restarts=args.restarts, down_seconds=args.down,
                          **common),
        "carriers": Drill(f"vnpt fails {args.flaky:.0%}, mobifone down {args.carrier_down:g} s",
                          flaky_share=args.flaky, carrier_down_seconds=args.carrier_down,
                          circuit_seconds=args.circuit, max_attempts=3, **common),
    }
    wanted = ["baseline", *(name for name in args.only.split(",") if name and name != "baseline")]
    return [made[name] for name in wanted]


def report(result: DrillResult, baseline: float) -> None:
    d = result.drill
    print(f"\n== {d.name}: {d.messages:,} messages, {d.workers} workers, {d.database}")
    for line in result.disruptions:
        print(f"   {line}")
    print(f"   final states: {result.by_state}")
    if result.failed_reasons:
        print(f"   failed, by reason: {dict(result.failed_reasons)}")
    print(f"   taken by the carriers: {result.taken:,}; taken twice: {result.duplicates}; lost: {result.lost};"
          f" stuck: {result.stuck}; resends the carriers recognised by id: {result.resent}")
    if result.recoveries:
        print("   sending again after each restart: " + ", ".join(f"{r:.1f} s" for r in result.recoveries))
    if result.worker_exits:
        print(f"   workers that ended by themselves (restarted by the supervisor): {result.worker_exits}")
    if result.pauses:
        print(f"   circuits opened: {result.pauses}, open for {result.paused_seconds} s")
    if result.resumed_after is not None:
        print(f"   mobifone: first message taken {result.resumed_after:.1f} s after it came back;"
              f" meanwhile the others took {result.sent_during_outage}")
    if result.troubles:
        print(f"   vnpt's troubled requests: {result.troubles}")
    print(f"   run time {result.run_seconds:.1f} s ({result.run_seconds / baseline:.2f}x the undisturbed run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=1, help="Redis / PostgreSQL restarts in their drills")
    parser.add_argument("--down", type=float, default=2.0, help="seconds Redis or PostgreSQL stays down")
    parser.add_argument("--flaky", type=float, default=0.2, help="share of vnpt's requests that fail")
    parser.add_argument("--carrier-down", type=float, default=120.0, help="seconds mobifone is switched off")
    parser.add_argument("--circuit", type=int, default=10, help="SMS_CIRCUIT_SECONDS in the carrier drill")
    parser.add_argument("--rate", type=float, default=3000, help="each carrier's msg/s")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--only", default="kill,redis,postgres,carriers")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    # Stopped early (SIGTERM, or SIGINT even when started in the background, which ignores it): the drill
    # in progress still stops its workers, carriers, Redis and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    results = []
    for drill in drills(args):
        result = run_drill(drill, log=lambda line: print(f"   .. {line}", flush=True))
        results.append(result)
        report(result, results[0].run_seconds)
    bad = sum(r.duplicates + r.lost + r.stuck for r in results)
    slowest = max(results, key=lambda r: r.run_seconds)
    print(f"\n{bad} messages duplicated, lost or stuck in all drills; slowest: {slowest.drill.name}")
    print(f"bench sms_drills: {slowest.run_seconds:.1f} s, baseline {results[0].run_seconds:.1f} s,"
          f" ratio {slowest.run_seconds / results[0].run_seconds:.1f}x")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
