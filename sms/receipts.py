"""Delivery receipts: queued in Redis as they arrive, then matched to their messages in bulk.

The path of a receipt:

1. :func:`queue_receipts` pushes a gateway's receipts to a Redis list at once
   (one item per batch): the carrier considers a receipt delivered as soon as it
   has our acknowledgement, so it must not wait in a worker's memory.
2. :func:`drain_receipts` (any process, one at a time) takes a slice of the
   list and finishes the messages with one ``UPDATE ... FROM`` per gateway,
   found by (gateway, carrier message id) in ``smsmessagepart`` (every part's
   carrier id, written with the accepted results), only messages still ``accepted``.
   The slice leaves Redis only after that commit: a crash in between applies
   some receipts twice, which changes nothing the second time.
3. A receipt whose message is not known yet goes back to the list: the SMSC
   often delivers within milliseconds of ``submit_sm_resp``, before the worker
   has written the carrier's id.  Receipts for parts 2..n of a long message
   find their message too: a failed part fails it, a delivered one is simply
   consumed (the message follows its first part).
   What is still unmatched after :data:`MATCH_WINDOW` (strangers, ids from a
   carrier that lost track) is set aside in ``smsreceipt`` for the staff.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import bindparam, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from robocall.models import utcnow
from sms.gateways.base import Receipt
from sms.models import FINAL_STATES, MessageState, SmsMessage, SmsMessagePart, SmsReceipt

MATCH_WINDOW = dt.timedelta(minutes=30)
_DRAIN_ITEMS = 100  # Redis items (receipt batches) per drain round
_LOCK_SECONDS = 15  # a round takes well under a second
_STATES = {"delivered": MessageState.DELIVERED, "failed": MessageState.FAILED, "expired": MessageState.EXPIRED}


def _inbox(prefix: str) -> str:
    return f"{prefix}:sms:receipts"


@dataclass(frozen=True, slots=True)
class _Queued:
    """A receipt as it waits in Redis: `first_seen` (epoch seconds) decides when it is set aside."""

    gateway: str
    receipt: Receipt
    first_seen: float

    @property
    def key(self) -> str:
        return self.receipt.gateway_message_id


def _encode(gateway: str, receipts: list[Receipt], first_seen: list[float]) -> str:
    now = utcnow()
    return json.dumps([gateway, [[r.gateway_message_id, r.status, r.error[:200], (r.at or now).isoformat(), seen]
                                 for r, seen in zip(receipts, first_seen)]])


def _decode(item: bytes) -> list[_Queued]:
    gateway, rows = json.loads(item)
    return [_Queued(gateway, Receipt(gid, status, error, dt.datetime.fromisoformat(at)), seen)
            for gid, status, error, at, seen in rows]


def queue_receipts(redis: Redis, prefix: str, gateway: str, receipts: list[Receipt]) -> None:
    """Put receipts in Redis at once (one list item for the whole batch)."""
    if receipts:
        now = time.time()
        redis.rpush(_inbox(prefix), _encode(gateway, receipts, [now] * len(receipts)))


def drain_receipts(engine: Engine, redis: Redis, prefix: str, rounds: int = 50) -> int:
    """Apply queued receipts to their messages; any process may call it, one at a time (a Redis
    lock: two appliers would deadlock on PostgreSQL updating the same rows in another order).
    Returns how many messages changed state; 0 when another process holds the lock."""
    # Short, and renewed every round: a process killed while it holds the lock stops everyone's
    # receipts for _LOCK_SECONDS at most.
    lock = redis.lock(f"{_inbox(prefix)}:lock", timeout=_LOCK_SECONDS, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return 0
    key = _inbox(prefix)
    changed = 0
    try:
        for round_number in range(rounds):
            if round_number:
                lock.reacquire()
            items = redis.lrange(key, 0, _DRAIN_ITEMS - 1)
            if not items:
                break
            queued = [q for item in items for q in _decode(item)]
            done, unmatched = apply_receipts(engine, queued)
            changed += done
            now = time.time()
            retry, too_old = [], []
            for q in unmatched:
                (retry if now - q.first_seen < MATCH_WINDOW.total_seconds() else too_old).append(q)
            _set_aside(engine, too_old)
            with redis.pipeline(transaction=True) as pipe:
                for gateway, group in _by_gateway(retry).items():
                    pipe.rpush(key, _encode(gateway, [q.receipt for q in group], [q.first_seen for q in group]))
                pipe.ltrim(key, len(items), -1)
                pipe.execute()
            if len(items) < _DRAIN_ITEMS or len(retry) == len(queued):
                break  # what is left is only waiting for its message: try again on the next call
    finally:
        try:
            lock.release()
        except Exception:  # expired: someone else may hold it now
            pass
    return changed


def record_receipts(engine: Engine, gateway: str, receipts: list[Receipt]) -> int:
    """Apply receipts at once and set aside those without a message (a single process: scripts, tests)."""
    now = time.time()
    changed, unmatched = apply_receipts(engine, [_Queued(gateway, r, now) for r in receipts])
    _set_aside(engine, unmatched)
    return changed


def _by_gateway(queued: list[_Queued]) -> dict[str, list[_Queued]]:
    groups: dict[str, list[_Queued]] = defaultdict(list)
    for q in queued:
        groups[q.gateway].append(q)
    return groups


def apply_receipts(engine: Engine, queued: list[_Queued]) -> tuple[int, list[_Queued]]:
    """Finish the messages of `queued` receipts: (messages changed, receipts whose message is unknown)."""
    changed = 0
    unmatched: list[_Queued] = []
    for gateway, group in _by_gateway(queued).items():
        # Sorted: every applier updates rows in the same order (no deadlock with a concurrent cancel).
        group.sort(key=lambda q: q.key)
        with engine.begin() as connection:
            finished = _finish(connection, gateway, group)
            changed += len(finished)
            rest = [q for q in group if q.key not in finished]
            known = _carrier_ids(connection, gateway, [q.key for q in rest])
            # A receipt repeated: its message is final already.  Not one merely `accepted`: each statement
            # sees a newer snapshot, so a message accepted since _finish ran is still waiting for it.
            final = {gid for gid, _, part, state in known if part == 1 and state in FINAL_STATES}
            rest = [q for q in rest if q.key not in final]
            by_part = {gid: (message_id, part) for gid, message_id, part, _ in known if part > 1}
            changed += _fail_parts(connection, [(by_part[q.key], q.receipt) for q in rest if q.key in by_part])
            unmatched.extend(q for q in rest if q.key not in by_part)
    return changed, unmatched


def _finish(connection: Connection, gateway: str, group: list[_Queued]) -> set[str]:
    """accepted -> delivered/failed/expired for the receipts' messages; the carrier ids it finished."""
    rows = [(q.key, _STATES.get(q.receipt.status, MessageState.FAILED).value, q.receipt.error,
             q.receipt.at or utcnow()) for q in group]
    if connection.dialect.name == "postgresql":
        # One statement for the whole batch (executemany costs a round of planning per row).
        # LATERAL ... LIMIT 1: one index probe per receipt whatever the planner's statistics say (a hash
        # join over every carrier id of the gateway was its choice on a freshly loaded table).
        result = connection.execute(text(
            "UPDATE smsmessage AS m SET state = v.state, reason = v.reason, done_at = v.at"
            " FROM unnest(CAST(:gids AS text[]), CAST(:states AS text[]), CAST(:reasons AS text[]),"
            " CAST(:ats AS timestamptz[])) AS v(gid, state, reason, at)"
            " CROSS JOIN LATERAL (SELECT message_id FROM smsmessagepart WHERE gateway = :gateway"
            " AND gateway_message_id = v.gid AND part = 1 LIMIT 1) AS p"
            " WHERE m.id = p.message_id AND m.state = :accepted"
            " RETURNING v.gid"),
            {"gids": [r[0] for r in rows], "states": [r[1] for r in rows], "reasons": [r[2] for r in rows],
             "ats": [r[3] for r in rows], "gateway": gateway, "accepted": MessageState.ACCEPTED.value})
        return set(result.scalars())
    finished: set[str] = set()
    statement = (update(SmsMessage)
                 .where(SmsMessage.id == _message_of(gateway, bindparam("gid")), SmsMessage.state == MessageState.ACCEPTED)
                 .values(state=bindparam("st"), reason=bindparam("why"), done_at=bindparam("at"))
                 .execution_options(synchronize_session=False))
    for gid, state, reason, at in rows:
        if connection.execute(statement, {"gid": gid, "st": state, "why": reason, "at": at}).rowcount:
            finished.add(gid)
    return finished


def _carrier_ids(connection: Connection, gateway: str, gids: list[str]) -> list[tuple[str, int, int, str]]:
    """(carrier id, message id, part, the message's state) for each of `gids` the gateway gave us."""
    if not gids:
        return []
    if connection.dialect.name == "postgresql":
        # One index probe per id (LATERAL, OFFSET 0 keeps the planner from turning it into a join):
        # on a fresh table without statistics it chose to scan the whole message table instead.
        rows = connection.execute(text(
            "SELECT v.gid, p.message_id, p.part, m.state FROM unnest(CAST(:gids AS text[])) AS v(gid)"
            " CROSS JOIN LATERAL (SELECT message_id, part FROM smsmessagepart WHERE gateway = :gateway"
            " AND gateway_message_id = v.gid OFFSET 0) AS p"
            " CROSS JOIN LATERAL (SELECT state FROM smsmessage WHERE id = p.message_id OFFSET 0) AS m"),
            {"gids": gids, "gateway": gateway})
    else:
        rows = connection.execute(select(SmsMessagePart.gateway_message_id, SmsMessagePart.message_id,
                                         SmsMessagePart.part, SmsMessage.state).join(
            SmsMessage, SmsMessage.id == SmsMessagePart.message_id).where(
            SmsMessagePart.gateway == gateway, SmsMessagePart.gateway_message_id.in_(gids)))  # type: ignore[attr-defined]
    return [(gid, message_id, part, state) for gid, message_id, part, state in rows]


def _message_of(gateway: str, gid: Any) -> Any:
    """The message whose part 1 has carrier id `gid` (a scalar subquery)."""
    return select(SmsMessagePart.message_id).where(
        SmsMessagePart.gateway == gateway, SmsMessagePart.gateway_message_id == gid,
        SmsMessagePart.part == 1).scalar_subquery()


def _fail_parts(connection: Connection, parts: list[tuple[tuple[int, int], Receipt]]) -> int:
    """A part that did not arrive fails its message, even one its first part marked delivered."""
    failed = [{"mid": message_id, "why": f"part {part}: {receipt.error or receipt.status}"[:200],
               "at": receipt.at or utcnow()}
              for (message_id, part), receipt in parts if receipt.status != "delivered"]
    if not failed:
        return 0
    result = connection.execute(
        update(SmsMessage).where(SmsMessage.id == bindparam("mid"), or_(
            SmsMessage.state == MessageState.ACCEPTED, SmsMessage.state == MessageState.DELIVERED))
        .values(state=MessageState.FAILED, reason=bindparam("why"), done_at=bindparam("at"))
        .execution_options(synchronize_session=False), failed)
    return max(result.rowcount, 0)


def _set_aside(engine: Engine, unmatched: list[_Queued]) -> None:
    if not unmatched:
        return
    with engine.begin() as connection:
        connection.execute(insert(SmsReceipt), [
            {"gateway": q.gateway, "gateway_message_id": q.key, "status": q.receipt.status,
             "error": q.receipt.error[:200], "received_at": q.receipt.at or utcnow(), "applied": False}
            for q in unmatched])
