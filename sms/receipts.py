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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from sqlalchemy import bindparam, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from robocall.db import array_sql, joined
from robocall.models import utcnow
from robocall.sms_models import (
    FINAL_STATES,
    MessageState,
    SmsMessage,
    SmsMessagePart,
    SmsReceipt,
)
from sms.gateways.base import Receipt

MATCH_WINDOW = dt.timedelta(minutes=30)
_DRAIN_ITEMS = 100  # Redis items (receipt batches) per drain round
_LOCK_SECONDS = 15  # a round takes well under a second
_STATES = {"delivered": MessageState.DELIVERED, "failed": MessageState.FAILED, "expired": MessageState.EXPIRED}


def _inbox(prefix: str) -> str:
    return f"{prefix}:sms:receipts"


@dataclass(slots=True)
class Receipts:
    """A gateway's receipts as columns (the i-th receipt is (ids[i], states[i], errors[i], ats[i])), the
    way they wait in Redis and go to PostgreSQL: a hundred thousand receipts cost no object each.
    `ats` are epoch milliseconds; `seen` when each was first queued (epoch seconds) decides when a
    receipt nobody claims is set aside."""

    gateway: str
    ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ats: list[int] = field(default_factory=list)
    seen: list[float] = field(default_factory=list)
    mids: list[int | None] = field(default_factory=list)  # Receipt.message_id: our id when the gateway knew it

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, other: Receipts) -> None:
        self.ids += other.ids
        self.states += other.states
        self.errors += other.errors
        self.ats += other.ats
        self.seen += other.seen
        self.mids += other.mids

    def take(self, indexes: list[int]) -> Receipts:
        """The receipts at `indexes`, in that order."""
        return Receipts(self.gateway, [self.ids[i] for i in indexes], [self.states[i] for i in indexes],
                        [self.errors[i] for i in indexes], [self.ats[i] for i in indexes],
                        [self.seen[i] for i in indexes], [self.mids[i] for i in indexes])

    def encode(self) -> str:
        data: dict[str, Any] = {"g": self.gateway, "id": self.ids, "st": self.states, "err": self.errors,
                                "at": self.ats, "mid": self.mids}
        # A batch is queued at one time: one number instead of a list of floats (JSON floats were most of
        # what a receipt cost here: docs/performance.md).
        if self.seen and self.seen.count(self.seen[0]) == len(self.seen):
            data["seen1"] = self.seen[0]
        else:
            data["seen"] = self.seen
        return json.dumps(data)

    @staticmethod
    def decode(item: bytes | str) -> Receipts:
        data = json.loads(item)
        seen = [data["seen1"]] * len(data["id"]) if "seen1" in data else data["seen"]
        return Receipts(data["g"], data["id"], data["st"], data["err"], data["at"], seen, data["mid"])

    @staticmethod
    def of(gateway: str, receipts: list[Receipt], seen: float) -> Receipts:
        now = _ms(utcnow())
        return Receipts(gateway, [r.gateway_message_id for r in receipts], [r.status for r in receipts],
                        [r.error[:200] for r in receipts], [_ms(r.at) if r.at else now for r in receipts],
                        [seen] * len(receipts), [_hint(r.message_id) for r in receipts])


_MAX_ID = 2**63 - 1  # a bigint: a larger id in a statement would fail the whole slice of receipts


def _hint(message_id: int | None) -> int | None:
    """A receipt's message id as far as it can be one of ours (carriers echo it as text)."""
    return message_id if message_id is not None and 0 < message_id <= _MAX_ID else None


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def queue_receipts(redis: Redis, prefix: str, gateway: str, receipts: list[Receipt]) -> None:
    """Put receipts in Redis at once (one list item for the whole batch)."""
    if receipts:
        redis.rpush(_inbox(prefix), Receipts.of(gateway, receipts, time.time()).encode())


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
            groups = _by_gateway(Receipts.decode(item) for item in items)
            done, unmatched = apply_receipts(engine, groups)
            changed += done
            now = time.time()
            retry, too_old = [], []
            for group in unmatched:
                young = [i for i, seen in enumerate(group.seen) if now - seen < MATCH_WINDOW.total_seconds()]
                old = [i for i, seen in enumerate(group.seen) if now - seen >= MATCH_WINDOW.total_seconds()]
                if young:
                    retry.append(group.take(young))
                if old:
                    too_old.append(group.take(old))
            _set_aside(engine, too_old)
            with redis.pipeline(transaction=True) as pipe:
                for group in retry:
                    pipe.rpush(key, group.encode())
                pipe.ltrim(key, len(items), -1)
                pipe.execute()
            if len(items) < _DRAIN_ITEMS or sum(map(len, retry)) == sum(map(len, groups)):
                break  # what is left is only waiting for its message: try again on the next call
    finally:
        try:
            lock.release()
        except Exception:  # expired: someone else may hold it now
            pass
    return changed


def record_receipts(engine: Engine, gateway: str, receipts: list[Receipt]) -> int:
    """Apply receipts at once and set aside those without a message (a single process: scripts, tests)."""
    changed, unmatched = apply_receipts(engine, [Receipts.of(gateway, receipts, time.time())])
    _set_aside(engine, unmatched)
    return changed


def _by_gateway(batches: Iterable[Receipts]) -> list[Receipts]:
    groups: dict[str, Receipts] = {}
    for batch in batches:
        if batch.gateway in groups:
            groups[batch.gateway].extend(batch)
        else:
            groups[batch.gateway] = batch
    return list(groups.values())


def apply_receipts(engine: Engine, groups: list[Receipts]) -> tuple[int, list[Receipts]]:
    """Finish the messages of the receipts (one group per gateway): (messages changed, the receipts
    whose message is unknown)."""
    changed = 0
    unmatched: list[Receipts] = []
    for group in groups:
        # Sorted: every applier updates rows in the same order (no deadlock with a concurrent cancel).
        group = group.take(sorted(range(len(group)), key=group.ids.__getitem__))
        with engine.begin() as connection:
            finished = _finish(connection, group, by_message_id=True)
            unknown = [i for i, gid in enumerate(group.ids) if gid not in finished]
            if unknown:
                finished |= _finish(connection, group.take(unknown) if finished else group)
            changed += len(finished)
            rest = [i for i, gid in enumerate(group.ids) if gid not in finished]
            known = _carrier_ids(connection, group.gateway, [group.ids[i] for i in rest])
            # A receipt repeated: its message is final already.  Not one merely `accepted`: each statement
            # sees a newer snapshot, so a message accepted since _finish ran is still waiting for it.
            final = {gid for gid, _, part, state in known if part == 1 and state in FINAL_STATES}
            rest = [i for i in rest if group.ids[i] not in final]
            by_part = {gid: (message_id, part) for gid, message_id, part, _ in known if part > 1}
            changed += _fail_parts(connection, [(by_part[group.ids[i]], group.states[i], group.errors[i], group.ats[i])
                                                for i in rest if group.ids[i] in by_part])
            lost = [i for i in rest if group.ids[i] not in by_part]
            if lost:
                unmatched.append(group.take(lost))
    return changed, unmatched


def _finish(connection: Connection, group: Receipts, by_message_id: bool = False) -> set[str]:
    """accepted -> delivered/failed/expired for the receipts' messages; the carrier ids it finished.

    `by_message_id`: only the receipts that came with our message id, found by primary key (no
    carrier-id lookup) where the message's carrier id is indeed theirs; the others (no id, a resent
    message's older carrier id...) are then for the lookup in smsmessagepart."""
    if by_message_id:
        group = group.take([i for i, mid in enumerate(group.mids) if mid is not None])
        if not len(group):
            return set()
    states = [_STATES.get(status, MessageState.FAILED).value for status in group.states]
    if connection.dialect.name == "postgresql":
        # One statement for the whole batch (executemany costs a round of planning per row).
        # LATERAL ... LIMIT 1: one index probe per receipt whatever the planner's statistics say (a hash
        # join over every carrier id of the gateway was its choice on a freshly loaded table).
        find = (" WHERE m.id = v.mid AND m.gateway_message_id = v.gid" if by_message_id else
                " CROSS JOIN LATERAL (SELECT message_id FROM smsmessagepart WHERE gateway = :gateway"
                " AND gateway_message_id = v.gid AND part = 1 LIMIT 1) AS p WHERE m.id = p.message_id")
        result = connection.execute(text(
            "UPDATE smsmessage AS m SET state = v.state, reason = v.reason, done_at = to_timestamp(v.at / 1000.0)"
            f" FROM unnest({array_sql('mids', 'bigint')}, {array_sql('gids', 'text')}, {array_sql('states', 'text')},"
            f" {array_sql('reasons', 'text')}, {array_sql('ats', 'bigint')}) AS v(mid, gid, state, reason, at)"
            f"{find} AND m.state = :accepted RETURNING v.gid"),
            {"mids": joined(group.mids), "gids": joined(group.ids), "states": joined(states),
             "reasons": joined(group.errors), "ats": joined(group.ats), "gateway": group.gateway,
             "accepted": MessageState.ACCEPTED.value})
        return set(result.scalars())
    target = ((SmsMessage.id == bindparam("mid"), SmsMessage.gateway_message_id == bindparam("gid")) if by_message_id
              else (SmsMessage.id == _message_of(group.gateway, bindparam("gid")),))
    statement = (update(SmsMessage).where(*target, SmsMessage.state == MessageState.ACCEPTED)
                 .values(state=bindparam("st"), reason=bindparam("why"), done_at=bindparam("at"))
                 .execution_options(synchronize_session=False))
    finished: set[str] = set()
    for mid, gid, state, reason, at in zip(group.mids, group.ids, states, group.errors, group.ats):
        if connection.execute(statement, {"mid": mid, "gid": gid, "st": state, "why": reason, "at": _at(at)}).rowcount:
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
            f"SELECT v.gid, p.message_id, p.part, m.state FROM unnest({array_sql('gids', 'text')}) AS v(gid)"
            " CROSS JOIN LATERAL (SELECT message_id, part FROM smsmessagepart WHERE gateway = :gateway"
            " AND gateway_message_id = v.gid OFFSET 0) AS p"
            " CROSS JOIN LATERAL (SELECT state FROM smsmessage WHERE id = p.message_id OFFSET 0) AS m"),
            {"gids": joined(gids), "gateway": gateway})
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


def _fail_parts(connection: Connection, parts: list[tuple[tuple[int, int], str, str, int]]) -> int:
    """A part that did not arrive fails its message, even one its first part marked delivered.
    `parts`: ((message id, part), status, error, at) of receipts for parts 2..n."""
    failed = [{"mid": message_id, "why": f"part {part}: {error or status}"[:200], "at": _at(at)}
              for (message_id, part), status, error, at in parts if status != "delivered"]
    if not failed:
        return 0
    result = connection.execute(
        update(SmsMessage).where(SmsMessage.id == bindparam("mid"), or_(
            SmsMessage.state == MessageState.ACCEPTED, SmsMessage.state == MessageState.DELIVERED))
        .values(state=MessageState.FAILED, reason=bindparam("why"), done_at=bindparam("at"))
        .execution_options(synchronize_session=False), failed)
    return max(result.rowcount, 0)


def _set_aside(engine: Engine, unmatched: list[Receipts]) -> None:
    rows = [{"gateway": group.gateway, "gateway_message_id": gid, "status": status, "error": error,
             "received_at": _at(at), "applied": False}
            for group in unmatched for gid, status, error, at in zip(group.ids, group.states, group.errors, group.ats)]
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(SmsReceipt), rows)
