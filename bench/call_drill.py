"""Kill drill: RQ workers killed with SIGKILL at random moments during a call campaign (issue 18).

    .venv/bin/python bench/call_drill.py [--kills 20] [--contacts 60] [--days 3] [--workers 2] [--seed 5]
                                         [--database-url postgresql+psycopg://.../postgres]
    .venv/bin/python bench/call_drill.py --asterisk [--contacts 12] [--kills 1]

Runs the same campaign twice on the simulated phone network, through real Redis, RQ worker processes
and a fresh database each time (SQLite files, or databases made on the PostgreSQL server given):
undisturbed, then with `--kills` workers killed one at a time at random moments (a replacement started
after each).  It prints what each run gave and exits 1 unless the killed run's provincial report and
every attempt (who, day, try, time, outcome) are the undisturbed run's, with nothing left queued,
dialling or `calling`.  The last line is the time the campaign took with the kills, against without.

`--asterisk`: one day through the real Asterisk of var/asterisk (`make setup`), RQ workers dialling on
the wall clock, `--kills` of them killed (no replacement) mid-campaign; exits 1 unless every call is
recorded as the residents' scripts say, each once, and nothing is left open.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))


def database(base: str | None, workdir: Path, name: str) -> str:
    if base is None:
        return f"sqlite:///{workdir / f'{name}.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from robocall.db import normalize_url

    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    database_name = f"drill_{name}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database_name}"'))
    admin.dispose()
    return normalize_url(base).rsplit("/", 1)[0] + f"/{database_name}"


def worker_processes():  # type: ignore[no-untyped-def]
    from robocall.worker_main import spawn_workers, stop_workers
    from simulator.drills import WorkerProcesses

    return WorkerProcesses(lambda count, env: spawn_workers(count, env, cwd=ROOT),
                           lambda processes: stop_workers(processes, patience=10))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, help="workers killed (default 20; 1 with --asterisk)")
    parser.add_argument("--contacts", type=int, help="contacts called (default 60; 12 with --asterisk)")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--kill-seed", type=int, default=1)
    parser.add_argument("--lease", type=int, default=2, help="CALL_LEASE_SECONDS for the drill")
    parser.add_argument("--database-url", help="a PostgreSQL server's URL (databases are made on it); default SQLite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--asterisk", action="store_true", help="the drill on the real Asterisk (one day)")
    args = parser.parse_args()
    if args.asterisk:
        args.kills = 1 if args.kills is None else args.kills
        args.contacts = args.contacts or 12
        args.workers = max(args.workers, args.kills + 1)  # killed workers are not replaced there
        return asterisk_drill(args)
    args.kills = 20 if args.kills is None else args.kills
    args.contacts = args.contacts or 60

    from simulator.drills import call_campaign

    workdir = Path(tempfile.mkdtemp(prefix="call-drill-"))
    common = dict(contacts=args.contacts, days=args.days, seed=args.seed, workers=args.workers,
                  lease_seconds=args.lease)
    calm = call_campaign(worker_processes(), database(args.database_url, workdir, "calm"), args.redis_url, **common)  # type: ignore[arg-type]
    print(f"undisturbed: {len(calm.attempts)} calls in {calm.seconds:.1f} s, stuck {calm.stuck}")
    killed = call_campaign(worker_processes(), database(args.database_url, workdir, "killed"), args.redis_url, kills=args.kills,  # type: ignore[arg-type]
                           kill_seed=args.kill_seed, gap=(0.1, 1.0), **common)
    print(f"killed:      {len(killed.attempts)} calls in {killed.seconds:.1f} s, {killed.kills} workers killed "
          f"(at {', '.join(f'{t:.1f}' for t in killed.kill_times)} s), {killed.handed_again} calls handed out "
          f"again, stuck {killed.stuck}")
    print("the kills landed: " + ", ".join(f"{count} {kind}" for kind, count in sorted(killed.landed.items())))
    report = calm.report
    print("report: " + ", ".join(f"{key} {report[key]}" for key in sorted(report)
                                 if isinstance(report[key], int | float) and not isinstance(report[key], bool)))
    same_report = killed.report == calm.report
    same_calls = killed.attempts == calm.attempts
    print(f"same report: {same_report}; same attempts: {same_calls} "
          f"({sum(a != b for a, b in zip(calm.attempts, killed.attempts))} differ)")
    ok = same_report and same_calls and killed.stuck == 0 and calm.stuck == 0 and killed.kills == args.kills
    if killed.kills < args.kills:
        print(f"only {killed.kills} of {args.kills} kills landed before the campaign ended: use more --contacts or --days")
    print(f"bench call_drill: {killed.seconds:.1f} s with {killed.kills} kills, baseline {calm.seconds:.1f} s "
          f"undisturbed, ratio {killed.seconds / calm.seconds:.2f}x")
    return 0 if ok else 1


def asterisk_drill(args: argparse.Namespace) -> int:
    from simulator.drills import asterisk_campaign

    workdir = Path(tempfile.mkdtemp(prefix="call-drill-"))
    contacts = args.contacts
    calm = asterisk_campaign(worker_processes(), database(args.database_url, workdir, "calm"), args.redis_url, contacts=contacts,
                             workers=args.workers, kills=0, lease_seconds=args.lease)
    result = asterisk_campaign(worker_processes(), database(args.database_url, workdir, "killed"), args.redis_url, contacts=contacts,
                               workers=args.workers, kills=args.kills, lease_seconds=args.lease,
                               kill_seed=args.kill_seed)
    print(f"undisturbed: {calm.attempts} calls (the scripts say {calm.expected}) in {calm.seconds:.1f} s, "
          f"{len(calm.wrong)} not as scripted, stuck {calm.stuck}")
    print(f"killed:      {result.attempts} calls (the scripts say {result.expected}) in {result.seconds:.1f} s, "
          f"{result.kills} workers killed (at {', '.join(f'{t:.1f}' for t in result.kill_times)} s; "
          + ", ".join(f"{count} {kind}" for kind, count in sorted(result.landed.items()))
          + f"), {result.handed_again} calls handed out again, {len(result.wrong)} not as scripted, stuck {result.stuck}")
    for key, (got, wanted) in list(result.wrong.items())[:10]:
        print(f"  {key}: recorded {got}, scripted {wanted}")
    ok = not result.wrong and not calm.wrong and result.attempts == result.expected and result.stuck == 0 \
        and result.kills == args.kills
    print(f"bench call_drill_asterisk: {result.seconds:.1f} s with {result.kills} kills, baseline {calm.seconds:.1f} s "
          f"undisturbed, ratio {result.seconds / calm.seconds:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
