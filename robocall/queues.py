"""Queue names, prefixed so that several deployments (or a demo) can share one Redis."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from robocall.config import get_settings

DIALER = "dialer"
CALLS = "calls"
SMS = "sms"
ALL = (DIALER, CALLS, SMS)


def queue_name(name: str) -> str:
    return f"{get_settings().queue_prefix}:{name}"


def redis_connection() -> Redis:
    return Redis.from_url(get_settings().redis_url)


def queue(name: str, connection: Redis | None = None) -> Queue:
    return Queue(queue_name(name), connection=connection or redis_connection())
