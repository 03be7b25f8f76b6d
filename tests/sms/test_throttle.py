"""The per-gateway pace and circuit breaker, shared through a real Redis."""

from __future__ import annotations

import threading
import time

import redis

from sms.throttle import Breaker, Pace


def test_pace_is_shared_by_all_callers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    rate, per_call, callers, calls = 200, 10, 4, 5  # 200 messages at 200 msg/s: about a second in all
    started = time.monotonic()

    def caller() -> None:
        pace = Pace(redis.Redis.from_url(redis_url), "vt", rate)  # each worker has its own connection
        for _ in range(calls):
            time.sleep(pace.reserve(per_call))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert 0.85 <= elapsed < 2.0, elapsed
    assert Pace(client, "other", rate).reserve(per_call) < 0.01  # another gateway is not held up


def test_back_off_delays_everyone(redis_url: str) -> None:
    pace = Pace(redis.Redis.from_url(redis_url), "vt", 1000)
    pace.back_off(0.5)
    assert 0.4 < Pace(redis.Redis.from_url(redis_url), "vt", 1000).reserve(1) <= 0.5


def test_breaker_opens_after_failures_in_a_row_and_rests(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    breaker = Breaker(client, "http", threshold=3, rest_seconds=1)
    assert not breaker.failed(2)
    breaker.succeeded()  # a success resets the count
    assert not breaker.failed(2) and breaker.open_for() == 0
    assert breaker.failed(1)
    assert 0 < Breaker(client, "http", 3, 1).open_for() <= 1  # every worker sees it open
    assert Breaker(client, "smpp", 3, 1).open_for() == 0
    time.sleep(1.1)
    assert breaker.open_for() == 0
