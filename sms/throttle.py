"""Per-gateway pace and circuit breaker, shared by every worker through Redis.

Pace: robocall/pace.py's reservation bucket (GCRA in Redis), one per gateway, so that all
workers of all machines together keep a gateway's `rate` msg/s.

Circuit breaker: failures in a row per gateway; at the threshold the gateway is
paused for a while (a key with a TTL), then tried again.  Other gateways go on.
"""

from __future__ import annotations

from redis import Redis

from robocall.pace import Pace as SharedPace
from robocall.queues import queue_name


def _key(kind: str, gateway: str) -> str:
    return f"{queue_name('sms')}:{kind}:{gateway}"


class Pace(SharedPace):
    """A gateway's msg/s, kept by all workers together."""

    def __init__(self, redis: Redis, gateway: str, rate: float, burst_seconds: float = 0.05) -> None:
        super().__init__(redis, _key("pace", gateway), rate, burst_seconds, what=f"gateway {gateway}")


class Breaker:
    def __init__(self, redis: Redis, gateway: str, threshold: int, rest_seconds: int) -> None:
        self.redis, self.gateway = redis, gateway
        self.failures_key, self.open_key = _key("failures", gateway), _key("open", gateway)
        self.threshold, self.rest_seconds = threshold, rest_seconds

    def open_for(self) -> float:
        """Seconds the gateway stays paused (0: closed, go ahead)."""
        ttl = self.redis.pttl(self.open_key)
        return max(int(ttl), 0) / 1000 if ttl and int(ttl) > 0 else 0.0

    def failed(self, count: int = 1) -> bool:
        """Count failures; True when this opened the circuit."""
        failures = self.redis.incrby(self.failures_key, count)
        self.redis.expire(self.failures_key, max(self.rest_seconds * 10, 60))
        if failures >= self.threshold:
            opened = self.redis.set(self.open_key, "1", ex=self.rest_seconds, nx=True)
            self.redis.delete(self.failures_key)
            return bool(opened)
        return False

    def succeeded(self) -> None:
        self.redis.delete(self.failures_key)
