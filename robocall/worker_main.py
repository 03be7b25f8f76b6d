"""RQ workers for the dialer and the calls (`robocall worker`, or `python worker.py`)."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker

from robocall.commands import require_settings
from robocall.config import get_settings
from robocall.gc_tuning import freeze_startup_objects
from robocall.logging_setup import configure_logging
from robocall.queues import ALL, SMS, queue, redis_connection
from robocall.wiring import wire
from sms.context import worker_context

log = logging.getLogger(__name__)

REDIS_PATIENCE = 2.0  # seconds between a worker's lives when Redis went away


class _PromptStop:
    """Stops within a second of SIGTERM.  RQ 3.0's unsubscribe() calls the pubsub thread's stop(), which
    redis-py 8.2 made join the thread with no limit; the thread sits up to RQ's sleep_time (60 s) waiting
    for a subscription it no longer has, so every worker took a minute to stop (systemd and the tests'
    stop_workers killed them instead)."""

    pubsub: Any
    pubsub_thread: Any

    def unsubscribe(self) -> None:
        if self.pubsub_thread:
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)  # a daemon thread: one still waiting ends with the process
            self.pubsub.close()


class PromptSimpleWorker(_PromptStop, SimpleWorker):
    pass


class PromptWorker(_PromptStop, Worker):
    pass


def run_worker(queues: tuple[str, ...] = ALL, burst: bool = False, fork: bool = False) -> None:
    """Work the given queues.  SimpleWorker runs jobs in process (no fork per job): our jobs are
    short and idempotent, and it is several times faster than RQ's forking Worker."""
    configure_logging(get_settings().log_level, fmt=get_settings().log_format)
    wire()
    connection = redis_connection()
    worker_class = PromptWorker if fork else PromptSimpleWorker
    if SMS in queues and not fork:  # forked jobs: a gateway's connection can't cross a fork
        _prepare_sms_gateways()
    if not fork:  # a forked job's process starts and ends with its job
        freeze_startup_objects()
    try:
        for life in itertools.count(1):
            try:
                # Made inside the try too: nothing of a new life (Redis may still be down or loading its
                # data) may end the process.
                worker = worker_class([queue(name, connection) for name in queues], connection=connection,
                                      name=f"robocall-{os.getpid()}" + (f"-{life}" if life > 1 else ""))
                worker.work(burst=burst, logging_level=logging.getLevelName(logging.WARNING))
                return
            except Exception as exc:
                # RQ gives up when Redis goes away in the middle of a job (it can't record the job's
                # end), and not always with a RedisError: the job's work is in the database and is queued
                # again, so work on once Redis answers, with the gateways' binds kept, instead of ending
                # the process (as systemd's Restart=always would, a process later).
                log.warning("worker: RQ stopped (%s: %s): working again in %s s", type(exc).__name__,
                            str(exc).splitlines()[0][:200] if str(exc) else "", REDIS_PATIENCE,
                            exc_info=not isinstance(exc, RedisError))
                time.sleep(REDIS_PATIENCE)
    finally:
        _close_sms_gateways()


def _prepare_sms_gateways() -> None:
    """Build the SMS gateways before the first job (the carriers' HTTP clients, SMPP binds), so the
    first batch is not slower than the others."""
    try:
        ctx = worker_context()
        for name in ctx.gateway_config:
            ctx.gateway(name)
    except Exception:  # a broken setting fails the first job, with its own message
        log.warning("SMS gateways could not be prepared ahead of the first job", exc_info=True)


def _close_sms_gateways() -> None:
    """Unbind SMPP sessions and close HTTP sessions this worker opened (each close is bounded), so the
    process ends promptly and the carrier sees a clean unbind rather than a dropped connection."""
    if worker_context.cache_info().currsize:
        worker_context().close()


def spawn_workers(count: int, env: Mapping[str, str], queues: Sequence[str] = (),
                  cwd: Path | None = None) -> list[subprocess.Popen[bytes]]:
    """Start `count` worker processes (`python -m robocall.worker_main`) with the settings in `env`."""
    argv = [sys.executable, "-m", "robocall.worker_main", *(arg for name in queues for arg in ("--queue", name))]
    return [subprocess.Popen(argv, env=dict(env), cwd=cwd) for _ in range(count)]


def stop_workers(processes: Sequence[subprocess.Popen[bytes]], patience: float = 30.0) -> None:
    """Ask every worker still running to stop (SIGTERM: RQ finishes the current job), then wait; one
    still there after `patience` seconds is killed (its jobs are idempotent and its claims expire)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            logging.getLogger(__name__).warning("worker %s did not stop in %.0f s: killed", process.pid, patience)
            process.kill()
            process.wait(timeout=10)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, type=click.Choice(ALL), help="Queues to work (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a process per job (RQ's default Worker) instead of running in process.")
def worker(queues: tuple[str, ...], burst: bool, fork: bool) -> None:
    """Run an RQ worker for the dialer and calls."""
    require_settings()  # `python -m robocall.worker_main` does not pass through the group
    run_worker(queues or ALL, burst=burst, fork=fork)


if __name__ == "__main__":
    worker()
