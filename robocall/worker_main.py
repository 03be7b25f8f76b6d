"""RQ workers for the dialer and the calls (`robocall worker`, or `python worker.py`)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import click
from rq import SimpleWorker, Worker

from robocall.config import get_settings
from robocall.logging_setup import configure_logging
from robocall.queues import ALL, queue, redis_connection


def run_worker(queues: tuple[str, ...] = ALL, burst: bool = False, fork: bool = False) -> None:
    """Work the given queues.  SimpleWorker runs jobs in process (no fork per job): our jobs are
    short and idempotent, and it is several times faster than RQ's forking Worker."""
    configure_logging(get_settings().log_level)
    connection = redis_connection()
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue(name, connection) for name in queues], connection=connection,
                          name=f"robocall-{os.getpid()}")
    worker.work(burst=burst, logging_level=logging.getLevelName(logging.WARNING))


def spawn_workers(count: int, env: Mapping[str, str], queues: Sequence[str] = (),
                  cwd: Path | None = None) -> list[subprocess.Popen[bytes]]:
    """Start `count` worker processes (`python -m robocall.worker_main`) with the settings in `env`."""
    argv = [sys.executable, "-m", "robocall.worker_main", *(arg for name in queues for arg in ("--queue", name))]
    return [subprocess.Popen(argv, env=dict(env), cwd=cwd) for _ in range(count)]


def stop_workers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Ask every worker still running to stop (SIGTERM: RQ finishes the current job), then wait."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=30)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, type=click.Choice(ALL), help="Queues to work (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a process per job (RQ's default Worker) instead of running in process.")
def worker(queues: tuple[str, ...], burst: bool, fork: bool) -> None:
    """Run an RQ worker for the dialer and calls."""
    run_worker(queues or ALL, burst=burst, fork=fork)


if __name__ == "__main__":
    worker()
