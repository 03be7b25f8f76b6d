"""wait_for_jobs against real Redis and a real RQ worker (run in burst mode in this process)."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus

from robocall.queues import JobFailed, job_statuses, wait_for_jobs


def succeed(n: int) -> int:
    return n


def fail(n: int) -> int:
    raise ValueError(f"job {n} went wrong")


def _queue(redis_url: str) -> tuple[Redis, Queue]:
    redis = Redis.from_url(redis_url)
    return redis, Queue("wait-test", connection=redis)


def _work(redis: Redis, queue: Queue) -> None:
    SimpleWorker([queue], connection=redis).work(burst=True)


def test_returns_once_every_job_has_finished(redis_url: str) -> None:
    redis, queue = _queue(redis_url)
    jobs = [queue.enqueue(succeed, n) for n in range(45)]
    _work(redis, queue)
    wait_for_jobs([j.id for j in jobs], redis, timeout=10, head=5)
    assert [j.return_value(refresh=True) for j in jobs] == list(range(45))


def test_a_failed_job_beyond_the_head_is_reported(redis_url: str) -> None:
    redis, queue = _queue(redis_url)
    jobs = [queue.enqueue(fail if n == 30 else succeed, n) for n in range(45)]
    _work(redis, queue)
    with pytest.raises(JobFailed, match=f"(?s)job {jobs[30].id} failed: Traceback.*job 30 went wrong"):
        wait_for_jobs([j.id for j in jobs], redis, timeout=10, head=5, sweep=0.05)


def test_unfinished_jobs_time_out_with_their_count(redis_url: str) -> None:
    redis, queue = _queue(redis_url)
    jobs = [queue.enqueue(succeed, n) for n in range(3)]  # no worker
    with pytest.raises(JobFailed, match="3 jobs still unfinished"):
        wait_for_jobs([j.id for j in jobs], redis, timeout=0.3, poll=0.05)


def test_statuses_are_read_without_fetching_jobs(redis_url: str) -> None:
    redis, queue = _queue(redis_url)
    done, waiting = queue.enqueue(succeed, 1), queue.enqueue(succeed, 2)
    SimpleWorker([queue], connection=redis).work(burst=True, max_jobs=1)
    assert job_statuses([done.id, waiting.id, "no-such-job"], redis) == [JobStatus.FINISHED, JobStatus.QUEUED, None]


def test_a_job_gone_from_redis_is_reported(redis_url: str) -> None:
    redis, queue = _queue(redis_url)
    job = queue.enqueue(succeed, 1)
    job.delete()
    with pytest.raises(JobFailed, match=f"job {job.id} disappeared"):
        wait_for_jobs([job.id], redis, timeout=5)
