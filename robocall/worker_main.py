"""RQ workers for the dialer and the calls (`robocall worker`, or `python worker.py`)."""

from __future__ import annotations

import logging
import os

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


@click.command("worker")
@click.option("--queue", "queues", multiple=True, type=click.Choice(ALL), help="Queues to work (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a process per job (RQ's default Worker) instead of running in process.")
def worker(queues: tuple[str, ...], burst: bool, fork: bool) -> None:
    """Run an RQ worker for the dialer and calls."""
    run_worker(queues or ALL, burst=burst, fork=fork)


if __name__ == "__main__":
    worker()
