"""Queues and jobs: names prefixed so that several deployments (or a demo) share one Redis,
and waiting for a set of jobs to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.queue import EnqueueData

from robocall.config import get_settings

DIALER = "dialer"
CALLS = "calls"
SMS = "sms"
ALL = (DIALER, CALLS, SMS)


def queue_name(name: str) -> str:
    return f"{get_settings().queue_prefix}:{name}"


def redis_connection() -> Redis:
    """The process's Redis client for REDIS_URL: one connection pool shared by the queues, the SMS
    context and the outbox's sender (redis-py clients are thread-safe and reset their pool after a fork)."""
    return _client(get_settings().redis_url)


@lru_cache(maxsize=4)
def _client(url: str) -> Redis:
    return Redis.from_url(url)


def queue(name: str, connection: Redis | None = None) -> Queue:
    return Queue(queue_name(name), connection=connection or redis_connection())


# Kept long enough for `rq info` and for a failed job's traceback to be read the next morning.
RESULT_TTL = 3600
FAILURE_TTL = 86400


def job_data(func: Callable[..., Any], *args: Any, timeout: int | None = None, job_id: str | None = None,
             result_ttl: int = RESULT_TTL) -> EnqueueData:
    """One job for ``Queue.enqueue_many``, with the project's result and failure lifetimes."""
    return Queue.prepare_data(func, args=args, timeout=timeout, job_id=job_id, result_ttl=result_ttl,
                              failure_ttl=FAILURE_TTL)


class JobFailed(RuntimeError):
    pass


class JobsUnfinished(JobFailed):
    """The timeout passed with jobs still queued or started (a worker that died holding a job never
    finishes it: RQ keeps it `started`)."""


def job_statuses(ids: list[str], connection: Redis) -> list[JobStatus | None]:
    """The status of each job (None: gone from Redis), one pipelined HGET each: only the field that is
    polled, not the whole job that Job.fetch_many reads and parses (dates, data, meta)."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(Job.key_for(job_id), "status")
        raw = pipe.execute()
    return [JobStatus(value.decode()) if value is not None else None for value in raw]


def wait_for_jobs(ids: list[str], connection: Redis, timeout: float = 600.0,
                  tick: Callable[[], None] | None = None, every: float = 0.5, poll: float = 0.01,
                  sweep: float = 2.0, head: int = 20) -> None:
    """Block until every job has finished, calling `tick` every `every` seconds; a failed job raises
    with its traceback.  Jobs finish about in the order they were queued, so each poll reads only the
    `head` oldest unfinished ones; every `sweep` seconds all of them (a failure further on).  Reading
    500 jobs every poll cost the SMS driver a core during a million-message campaign."""
    remaining = list(ids)
    deadline = time.monotonic() + timeout
    last_tick = last_sweep = 0.0
    while remaining:
        everything = time.monotonic() - last_sweep >= sweep
        window = remaining if everything else remaining[:head]
        finished = set()
        for job_id, status in zip(window, job_statuses(window, connection)):
            if status is None:
                raise JobFailed(f"job {job_id} disappeared from Redis")
            if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                job = Job.fetch(job_id, connection=connection)
                result = job.latest_result()
                raise JobFailed(f"job {job_id} {status.value}: {result.exc_string if result else ''}")
            if status == JobStatus.FINISHED:
                finished.add(job_id)
        if everything:
            last_sweep = time.monotonic()
        remaining = [job_id for job_id in remaining if job_id not in finished]
        if tick and time.monotonic() - last_tick >= every:
            tick()
            last_tick = time.monotonic()
        if remaining:
            if time.monotonic() > deadline:
                raise JobsUnfinished(f"{len(remaining)} jobs still unfinished after {timeout:.0f}s (are workers running?)")
            time.sleep(poll)
