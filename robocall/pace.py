"""A pace shared by every worker through Redis: at most `rate` starts per second, all processes together.

A reservation bucket (GCRA) in one Lua script: each caller reserves n slots and is told how long
to wait before its first one.  When the far side says "slow down", :meth:`Pace.back_off` pushes the
schedule forward for everyone.  Used by the SMS gateways (msg/s) and the call backends (calls/s).
"""

from __future__ import annotations

from redis import Redis

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


class Pace:
    def __init__(self, redis: Redis, key: str, rate: float, burst_seconds: float = 0.05, what: str = "") -> None:
        if rate <= 0:
            raise ValueError(f"{what or key}: rate must be > 0 per second")
        self.redis, self.key = redis, key
        self.interval_us = 1_000_000 / rate
        self.burst_us = burst_seconds * 1_000_000
        self._reserve = redis.register_script(_RESERVE)
        self._back_off = redis.register_script(_BACK_OFF)

    def reserve(self, n: int) -> float:
        """Reserve n starts; returns the seconds to wait before the first of them."""
        return int(self._reserve(keys=[self.key], args=[n, self.interval_us, self.burst_us])) / 1_000_000

    def back_off(self, seconds: float) -> None:
        self._back_off(keys=[self.key], args=[int(seconds * 1_000_000)])
