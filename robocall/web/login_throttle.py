"""Password spraying: failed logins counted per client address in Redis, shared by every server process.

The per-name lockout (robocall.accounts) stops guessing one account; this stops one address trying a
few passwords on many accounts.  A fixed window per address (INCR, expiry set by the first failure):
past LOGIN_ADDRESS_FAILURES failures the address is refused until the window ends, and told when
(`Retry-After`).  A CDC office behind one NAT shares an address, so the limit is generous.
"""

from __future__ import annotations

from redis import Redis

_KEY = "robocall:login-failures:"


def refused_for(redis: Redis, address: str, limit: int) -> int:
    """Seconds the address must wait before trying again (0: it may try now)."""
    key = _KEY + address
    failures = redis.get(key)
    if failures is None or int(failures) < limit:
        return 0
    return max(1, int(redis.ttl(key)))


def count_failure(redis: Redis, address: str, window_seconds: int) -> None:
    key = _KEY + address
    with redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)  # the window starts at the first failure
        pipe.execute()
