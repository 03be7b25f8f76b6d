"""Delivery receipts: stored as they arrive, then matched to their messages.

A receipt can arrive before the worker that sent the message has written the
carrier's id (the SMSC answers submit_sm and delivers within milliseconds), so
receipts are first stored (``smsreceipt``) and :func:`apply_receipts` matches
the unapplied ones by (gateway, carrier message id).  It runs after each
batch and after each batch of receipts, so a receipt waits at most one batch.
"""

from __future__ import annotations

import datetime as dt
import json

from redis import Redis

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine

from robocall.models import utcnow
from sms.gateways.base import Receipt
from sms.models import MessageState, SmsMessage, SmsReceipt

# Receipts still unmatched after this long are set aside (parts 2..n of a long message, strangers):
# by then the worker that sent the message has long written the carrier's id, or died and resent it.
MATCH_WINDOW = dt.timedelta(minutes=30)
_APPLY_CHUNK = 5000
_STATES = {"delivered": MessageState.DELIVERED, "failed": MessageState.FAILED, "expired": MessageState.EXPIRED}


def _inbox(prefix: str) -> str:
    return f"{prefix}:sms:receipts"


def queue_receipts(redis: Redis, prefix: str, gateway: str, receipts: list[Receipt]) -> None:
    """Put receipts in Redis at once: the carrier considers them delivered to us as soon as it has
    our acknowledgement, so they must not wait in a worker's memory for the database."""
    if receipts:
        redis.rpush(_inbox(prefix), *(json.dumps([gateway, r.gateway_message_id, r.status, r.error,
                                                  (r.at or utcnow()).isoformat()]) for r in receipts))


def drain_receipts(engine: Engine, redis: Redis, prefix: str, limit: int = 20_000) -> int:
    """Move queued receipts from Redis to the database and apply them; any process may do it, one at a
    time (a Redis lock: two drainers would store receipts twice, two appliers deadlock on PostgreSQL).
    Returns how many messages changed state; 0 when another process holds the lock."""
    lock = redis.lock(f"{_inbox(prefix)}:lock", timeout=120, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    try:
        key = _inbox(prefix)
        items = redis.lrange(key, 0, limit - 1)
        if items:
            by_gateway: dict[str, list[Receipt]] = {}
            for item in items:
                gateway, message_id, status, error, at = json.loads(item)
                by_gateway.setdefault(gateway, []).append(
                    Receipt(message_id, status, error, dt.datetime.fromisoformat(at)))
            for gateway, receipts in by_gateway.items():
                _store(engine, gateway, receipts)
            redis.ltrim(key, len(items), -1)  # after the commit: a crash in between stores some twice (harmless)
        return apply_receipts(engine)
    finally:
        try:
            lock.release()
        except Exception:  # expired: someone else may hold it now
            pass


def _store(engine: Engine, gateway: str, receipts: list[Receipt]) -> None:
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(insert(SmsReceipt), [
            {"gateway": gateway, "gateway_message_id": r.gateway_message_id, "status": r.status,
             "error": r.error[:200], "received_at": r.at or now, "applied": False} for r in receipts
        ])


def record_receipts(engine: Engine, gateway: str, receipts: list[Receipt]) -> int:
    """Store receipts and apply what can be; returns how many messages they finished.
    For a single process (tests, scripts); concurrent processes go through the Redis inbox."""
    if not receipts:
        return 0
    _store(engine, gateway, receipts)
    return apply_receipts(engine)


def apply_receipts(engine: Engine, now: dt.datetime | None = None) -> int:
    """Finish the messages of unapplied receipts; returns how many messages changed state."""
    now = now or utcnow()
    changed = 0
    after = 0
    with engine.begin() as connection:
        connection.execute(update(SmsReceipt).where(
            SmsReceipt.applied == False, SmsReceipt.received_at <= now - MATCH_WINDOW).values(applied=True))  # noqa: E712
    while True:
        with engine.begin() as connection:
            pending = connection.execute(
                select(SmsReceipt.id, SmsReceipt.gateway, SmsReceipt.gateway_message_id, SmsReceipt.status,
                       SmsReceipt.error, SmsReceipt.received_at)
                .where(SmsReceipt.applied == False, SmsReceipt.id > after)  # noqa: E712
                .order_by(SmsReceipt.id).limit(_APPLY_CHUNK)
            ).all()
            if not pending:
                return changed
            after = pending[-1][0]
            # Which receipts have their message, first: a message whose carrier id is committed after
            # this read stays for the next round (read after the update, it could be marked applied
            # without having been updated: each statement sees a newer snapshot).
            matched: set[tuple[str, str]] = set()
            for gateway in {g for _id, g, *_ in pending}:
                ids = [mid for _id, g, mid, *_ in pending if g == gateway]
                matched.update((gateway, mid) for mid in connection.execute(
                    select(SmsMessage.gateway_message_id).where(
                        SmsMessage.gateway == gateway, SmsMessage.gateway_message_id.in_(ids))).scalars())  # type: ignore[union-attr]
            ready = [row for row in pending if (row[1], row[2]) in matched]
            if ready:
                result = connection.execute(
                    update(SmsMessage)
                    .where(SmsMessage.gateway == bindparam("g"), SmsMessage.gateway_message_id == bindparam("mid"),
                           SmsMessage.state == MessageState.ACCEPTED)
                    .values(state=bindparam("st"), reason=bindparam("why"), done_at=bindparam("at"))
                    .execution_options(synchronize_session=False),
                    [{"g": g, "mid": mid, "st": _STATES.get(status, MessageState.FAILED), "why": error,
                      "at": at or now} for _id, g, mid, status, error, at in ready],
                )
                changed += max(result.rowcount, 0)
            done = [rid for rid, g, mid, *_ in pending if (g, mid) in matched]
            if done:
                connection.execute(update(SmsReceipt).where(SmsReceipt.id.in_(done)).values(applied=True))  # type: ignore[union-attr]
        if len(pending) < _APPLY_CHUNK:
            return changed
