"""Per-gateway pace and circuit breaker, shared by every worker through Redis.

Pace: a reservation bucket (GCRA) in one Lua script, so that all workers of all
machines together keep a gateway's `rate` msg/s: each caller reserves n slots and
is told how long to wait before its first one.  When a carrier says "throttled",
:meth:`Pace.back_off` pushes the schedule forward for everyone.

Circuit breaker: failures in a row per gateway; at the threshold the gateway is
paused for a while (a key with a TTL), then tried again.  Other gateways go on.
"""

from __future__ import annotations

from redis import Redis

from robocall.queues import queue_name

# KEYS[1] = schedule key; ARGV = n, interval (µs per slot), burst (µs).  Returns the wait in µs.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now - tonumber(ARGV[3]) then tat = now - tonumber(ARGV[3]) end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', 60000 + math.floor((new_tat - now) / 1000))
local wait = tat - now
if wait < 0 then wait = 0 end
return wait
"""

# KEYS[1] = schedule key; ARGV[1] = back-off (µs).  Moves the schedule to now + back-off if earlier.
_BACK_OFF = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local later = now + tonumber(ARGV[1])
if tat < later then redis.call('SET', KEYS[1], string.format('%.0f', later), 'PX', 60000 + math.floor(tonumber(ARGV[1]) / 1000)) end
return 1
"""


def _key(kind: str, gateway: str) -> str:
    return f"{queue_name('sms')}:{kind}:{gateway}"


class Pace:
    def __init__(self, redis: Redis, gateway: str, rate: float, burst_seconds: float = 0.05) -> None:
        if rate <= 0:
            raise ValueError(f"gateway {gateway}: rate must be > 0 msg/s")
        self.redis, self.key = redis, _key("pace", gateway)
        self.interval_us = 1_000_000 / rate
        self.burst_us = burst_seconds * 1_000_000
        self._reserve = redis.register_script(_RESERVE)
        self._back_off = redis.register_script(_BACK_OFF)

    def reserve(self, n: int) -> float:
        """Reserve n sends; returns the seconds to wait before starting them."""
        return int(self._reserve(keys=[self.key], args=[n, self.interval_us, self.burst_us])) / 1_000_000

    def back_off(self, seconds: float) -> None:
        self._back_off(keys=[self.key], args=[int(seconds * 1_000_000)])


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
