"""Send one batch of a campaign's messages: claim, route, pace, submit, record.

Accounting, in the order it happens:

1. Claim: one ``UPDATE ... RETURNING`` moves the batch's due messages from
   ``queued`` to ``submitted`` (attempts + 1) and commits before anything is
   sent.  Two jobs on the same ids can't both claim a message.  A message left
   ``submitted`` by a worker that died is claimed again once
   SMS_SUBMIT_LEASE_SECONDS have passed, and resent with the same id.
2. Each gateway's share goes out in chunks, each chunk after reserving its
   segments from the gateway's shared pace; a gateway whose circuit is open
   is skipped (its messages go back to ``queued`` for when it reopens).
3. Results are written in bulk: accepted (+ carrier id), failed with the
   reason, or back to queued with a later ``next_try_at`` (transient failures
   bounded by SMS_MAX_ATTEMPTS; throttling, and a carrier that could not be
   reached at all, cost no try).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from redis.exceptions import RedisError
from sqlalchemy import DateTime, and_, bindparam, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from robocall.db import array_sql, autocommit, dialect_insert, joined
from robocall.models import utcnow
from robocall.optouts import opted_out_among
from robocall.outages import Outage
from robocall.sms_models import (
    SENDABLE,
    MessageState,
    SmsCampaign,
    SmsMessage,
    SmsMessagePart,
)
from sms.context import SmsContext
from sms.gateways.base import Outcome, Outgoing, SendResult
from sms.prepare import Template
from sms.throttle import Breaker, Pace

log = logging.getLogger(__name__)

CHUNK = 500  # messages handed to a gateway at once


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: str = ""  # why nothing was claimed: paused, quiet hours...

    def to_json(self) -> dict[str, object]:
        return {"claimed": self.claimed, "outcomes": dict(self.outcomes), "skipped": self.skipped}


class _Claimed(NamedTuple):  # one per message sent: cheap to make
    id: int
    phone: str
    gateway: str
    text: str | None
    encoding: str
    segments: int
    attempts: int


def send_batch(ctx: SmsContext, campaign_id: int, first_id: int, last_id: int,
               now: dt.datetime | None = None) -> BatchResult:
    now = now or utcnow()
    result = BatchResult()
    with autocommit(ctx.engine) as db:
        campaign = db.execute(_CAMPAIGN, {"cid": campaign_id}).first()
        if campaign is None or campaign.status not in SENDABLE:
            result.skipped = f"campaign {campaign.status if campaign else 'missing'}"
            return result
        if campaign.kind != "transactional" and ctx.policy.quiet_hours.quiet(now):  # replies, health notices: no wait
            result.skipped = "quiet hours"
            return result
        due_ids = list(db.execute(_DUE_IDS, _range_now(ctx, campaign_id, first_id, last_id, now)).scalars())
    fixed_text = Template(campaign.template, campaign.strip_accents).fixed
    # Claimed a chunk at a time, just before sending it: a worker killed mid-batch leaves at most
    # one chunk in doubt; the rest of its batch is still plainly `queued`.
    for start in range(0, len(due_ids), CHUNK):
        chunk = due_ids[start:start + CHUNK]
        with autocommit(ctx.engine) as db:  # the claim commits before anything is sent
            if start and db.execute(_STATUS, {"cid": campaign_id}).scalar() not in SENDABLE:
                result.skipped = "campaign paused or cancelled"  # takes effect between chunks
                break
            claimed = _claim(db, ctx, campaign_id, chunk[0], chunk[-1], now)
            result.claimed += len(claimed)
            claimed = _drop_opted_out(db, ctx, claimed, now, result)
        by_gateway: dict[str, list[_Claimed]] = defaultdict(list)
        for message in claimed:
            by_gateway[message.gateway].append(message)
        for gateway_name, messages in by_gateway.items():
            _send_gateway(ctx, gateway_name, messages, fixed_text, now, result)
    ctx.drain_receipts()
    return result


def _due(now: Any, stale_before: Any):  # type: ignore[no-untyped-def]
    """Messages to send at `now`: queued (and their retry time come), or left `submitted` before
    `stale_before` (now - the lease) by a worker that died."""
    return or_(
        and_(SmsMessage.state == MessageState.QUEUED,
             or_(SmsMessage.next_try_at == None, SmsMessage.next_try_at <= now)),  # noqa: E711
        and_(SmsMessage.state == MessageState.SUBMITTED, SmsMessage.submitted_at < stale_before),
    )


def _due_now():  # type: ignore[no-untyped-def]
    """Due at :now: queued (and its retry time come), or submitted before :stale_before (a dead worker's)."""
    return _due(bindparam("now", type_=DateTime), bindparam("stale_before", type_=DateTime))


# Statements of the hot path, built once: building one like _CLAIM costs SQLAlchemy more than running it
# for a whole chunk; executing a built one reuses its cache key.
_CAMPAIGN = select(SmsCampaign.status, SmsCampaign.template, SmsCampaign.strip_accents, SmsCampaign.kind).where(
    SmsCampaign.id == bindparam("cid"))
_STATUS = select(SmsCampaign.status).where(SmsCampaign.id == bindparam("cid"))
_IN_RANGE = (SmsMessage.campaign_id == bindparam("cid"), SmsMessage.id >= bindparam("first"),
             SmsMessage.id <= bindparam("last"))
_DUE_IDS = select(SmsMessage.id).where(*_IN_RANGE, _due_now()).order_by(SmsMessage.id)
_CLAIM = (update(SmsMessage).where(*_IN_RANGE, _due_now())
          .values(state=MessageState.SUBMITTED, attempts=SmsMessage.attempts + 1, submitted_at=bindparam("now"))
          .returning(SmsMessage.id, SmsMessage.phone, SmsMessage.gateway, SmsMessage.text, SmsMessage.encoding,
                     SmsMessage.segments, SmsMessage.attempts))


def _range_now(ctx: SmsContext, campaign_id: int, first_id: int, last_id: int, now: dt.datetime) -> dict[str, Any]:
    return {"cid": campaign_id, "first": first_id, "last": last_id, "now": now,
            "stale_before": now - ctx.policy.submit_lease}


def _claim(db: Connection, ctx: SmsContext, campaign_id: int, first_id: int, last_id: int,
           now: dt.datetime) -> list[_Claimed]:
    """The due messages with ids in [first_id, last_id]: queued -> submitted in one statement (committed
    at once on `db`, before sending); the state is checked again, so of two jobs on the same messages
    only one gets each.  A range, not a list of ids: one walk along the primary key instead of a probe
    per message."""
    rows = db.execute(_CLAIM, _range_now(ctx, campaign_id, first_id, last_id, now)).all()
    return sorted(map(_Claimed._make, rows))  # by id, the first field


def _drop_opted_out(db: Connection, ctx: SmsContext, claimed: list[_Claimed], now: dt.datetime,
                    result: BatchResult) -> list[_Claimed]:
    """Opt-outs take effect at once, even for a campaign already loaded."""
    blocked = opted_out_among(db, [m.phone for m in claimed])
    if not blocked:
        return claimed
    dropped = [m for m in claimed if m.phone in blocked]
    _write(db, [SendResult(m.id, Outcome.REJECTED, reason="opted out") for m in dropped], {}, now, ctx)
    result.outcomes["opted_out"] += len(dropped)
    return [m for m in claimed if m.phone not in blocked]


def _send_gateway(ctx: SmsContext, name: str, messages: list[_Claimed], fixed_text: str | None,
                  now: dt.datetime, result: BatchResult) -> None:
    breaker, pace = ctx.breaker(name), ctx.pace(name)
    attempts = {m.id: m.attempts for m in messages}
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start:start + CHUNK]
        try:
            rest = breaker.open_for()
            wait = 0.0 if rest else pace.reserve(len(chunk))
        except RedisError:
            # The shared pace and circuit live in Redis: without them nothing goes out, and what this job
            # claimed goes back at once (not after the lease) for when Redis answers again.
            _release(ctx, messages[start:], now, f"gateway {name}: Redis unavailable")
            raise
        if rest:
            _release(ctx, messages[start:], now + dt.timedelta(seconds=rest), f"gateway {name} paused")
            result.outcomes["gateway_paused"] += len(messages) - start
            return
        outgoing = [Outgoing(m.id, m.phone, m.text if m.text is not None else fixed_text or "", m.encoding,
                             ctx.policy.sender, m.segments) for m in chunk]
        if wait > 0:
            time.sleep(wait)
        try:
            results = ctx.gateway(name).send(outgoing)
        except Exception as exc:  # a gateway bug must not strand the batch in `submitted`
            log.exception("gateway %s failed", name)
            results = [SendResult(m.id, Outcome.TRANSIENT, reason=f"gateway error: {exc}") for m in outgoing]
        outcomes = Counter(r.outcome for r in results)
        for outcome, count in outcomes.items():
            result.outcomes[str(outcome)] += count
        # What the carrier answered is written first: a Redis outage in the bookkeeping below must not
        # leave messages the carrier took in `submitted`, to be sent again after the lease.
        _write_results(ctx, results, attempts, name)
        _judge_gateway(ctx, name, breaker, pace, results, outcomes)


def _judge_gateway(ctx: SmsContext, name: str, breaker: Breaker, pace: Pace, results: list[SendResult],
                   outcomes: Counter[Outcome]) -> None:
    """The shared pace and circuit learn from a chunk's answers."""
    throttled = [r for r in results if r.outcome == Outcome.THROTTLED]
    if throttled:
        pace.back_off(max(r.retry_after or 1.0 for r in throttled))
    failing = outcomes[Outcome.TRANSIENT] + outcomes[Outcome.UNREACHABLE]
    if failing:
        log.warning("gateway %s: %d of %d not taken, will retry (%s)", name, failing, len(results),
                    next(r.reason for r in results if r.outcome in (Outcome.TRANSIENT, Outcome.UNREACHABLE)))
    # A chunk the carrier took none of is a failure; one it took some of says it is up (a carrier failing
    # one request in five had its circuit opened by nearly every chunk: paused most of the time).
    if failing and not outcomes[Outcome.ACCEPTED]:
        if breaker.failed(failing):
            log.warning("gateway %s paused for %ss after repeated failures", name, ctx.policy.circuit_seconds)
    elif outcomes[Outcome.ACCEPTED]:
        breaker.succeeded()


def _release(ctx: SmsContext, messages: list[_Claimed], at: dt.datetime, reason: str) -> None:
    """Give claimed messages back, untried (the attempt does not count)."""
    with ctx.engine.begin() as connection:
        connection.execute(
            update(SmsMessage).where(SmsMessage.id == bindparam("mid"))
            .values(state=MessageState.QUEUED, attempts=SmsMessage.attempts - 1, next_try_at=at, reason=reason)
            .execution_options(synchronize_session=False),
            [{"mid": m.id} for m in messages],
        )


def _accept(connection: Connection, accepted: list[dict[str, object]], now: dt.datetime) -> None:
    """submitted -> accepted with the carrier's id, for a chunk of messages."""
    if connection.dialect.name == "postgresql":
        # One statement for the chunk: executemany plans and runs an UPDATE per row.
        connection.execute(text(
            "UPDATE smsmessage AS m SET state = :accepted, gateway_message_id = v.gid, accepted_at = :now,"
            f" reason = '' FROM unnest({array_sql('ids', 'bigint')}, {array_sql('gids', 'text')}) AS v(id, gid)"
            " WHERE m.id = v.id AND m.state = :submitted"),
            {"ids": joined(a["mid"] for a in accepted), "gids": joined(a["gid"] for a in accepted), "now": now,
             "accepted": MessageState.ACCEPTED.value, "submitted": MessageState.SUBMITTED.value})
        return
    connection.execute(update(SmsMessage).where(
        SmsMessage.id == bindparam("mid"), SmsMessage.state == MessageState.SUBMITTED).values(
        state=MessageState.ACCEPTED, gateway_message_id=bindparam("gid"), accepted_at=now, reason=""
    ).execution_options(synchronize_session=False), accepted)


def _write_results(ctx: SmsContext, results: list[SendResult], attempts: dict[int, int], gateway: str) -> None:
    """Write a chunk's results in one transaction.  A carrier id row that is already there (a message
    accepted twice with the same carrier id: two workers on it, the carrier knowing it by our id) fails
    the plain insert; the chunk is then written again skipping such rows (PostgreSQL's ON CONFLICT
    would make every row of every chunk dearer)."""
    # The carrier has answered: the database restarting must not lose that (the messages would be sent
    # again once their lease is over), so the write is tried again for most of the lease.
    deadline = time.monotonic() + ctx.policy.submit_lease.total_seconds() * 0.8
    outage = Outage(f"gateway {gateway}: writing {len(results)} answers")
    while True:
        try:
            try:
                with ctx.engine.begin() as connection:
                    _write(connection, results, attempts, utcnow(), ctx, gateway)
            except IntegrityError:
                with ctx.engine.begin() as connection:
                    _write(connection, results, attempts, utcnow(), ctx, gateway, skip_known_carrier_ids=True)
        except (OperationalError, InterfaceError) as exc:
            wait = outage.failed(exc)
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            continue
        outage.over()
        return


def _record_carrier_ids(connection: Connection, gateway: str, accepted: list[SendResult], skip_known: bool) -> None:
    """Every part's carrier id, for its receipt to find the message (sms.receipts); `skip_known`: rows
    already there are kept as they are (otherwise they fail the statement)."""
    rows = [(r.id, number, part_id) for r in accepted if r.gateway_message_id
            for number, part_id in enumerate((r.gateway_message_id, *r.part_ids), start=1)]
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(text(
            "INSERT INTO smsmessagepart (message_id, gateway, gateway_message_id, part)"
            f" SELECT v.mid, :gateway, v.gid, v.part FROM unnest({array_sql('mids', 'bigint')},"
            f" {array_sql('gids', 'text')}, {array_sql('parts', 'int')}) AS v(mid, gid, part)"
            + (" ON CONFLICT DO NOTHING" if skip_known else "")),
            {"gateway": gateway, "mids": joined(r[0] for r in rows), "parts": joined(r[1] for r in rows),
             "gids": joined(r[2] for r in rows)})
        return
    statement = dialect_insert(connection, SmsMessagePart)
    connection.execute(statement.on_conflict_do_nothing() if skip_known else statement, [
        {"message_id": mid, "gateway": gateway, "gateway_message_id": gid, "part": part} for mid, part, gid in rows])


def _write(connection: Connection, results: list[SendResult], attempts: dict[int, int], now: dt.datetime,
           ctx: SmsContext, gateway: str = "", skip_known_carrier_ids: bool = False) -> None:
    accepted, failed, retry, untried = [], [], [], []
    for r in results:
        if r.outcome == Outcome.ACCEPTED:
            accepted.append({"mid": r.id, "gid": r.gateway_message_id})
        elif r.outcome == Outcome.REJECTED:
            failed.append({"mid": r.id, "why": r.reason[:200]})
        elif r.outcome == Outcome.UNREACHABLE:
            # Never handed over: the try does not count (a carrier down for minutes would otherwise use
            # up every message's tries and fail them all); tried again once its circuit has rested.
            untried.append({"mid": r.id, "why": r.reason[:200],
                            "at": now + dt.timedelta(seconds=ctx.policy.circuit_seconds)})
        elif r.outcome == Outcome.THROTTLED:
            # "Slow down" is not a failure: the pace backs off and the try does not count (109 of 100,000
            # messages failed "gave up after 3 tries: HTTP 429" in the carrier drill).
            at = now + dt.timedelta(seconds=r.retry_after) if r.retry_after \
                else ctx.policy.retry_at(now, attempts.get(r.id, 1))
            untried.append({"mid": r.id, "why": r.reason[:200], "at": at})
        elif attempts.get(r.id, ctx.policy.max_attempts) >= ctx.policy.max_attempts:
            failed.append({"mid": r.id, "why": f"gave up after {attempts.get(r.id)} tries: {r.reason}"[:200]})
        else:
            retry.append({"mid": r.id, "why": r.reason[:200], "at": ctx.policy.retry_at(now, attempts[r.id])})
    by_id = SmsMessage.id == bindparam("mid")
    if accepted:
        _accept(connection, accepted, now)
        _record_carrier_ids(connection, gateway, [r for r in results if r.outcome == Outcome.ACCEPTED],
                            skip_known_carrier_ids)
    if failed:
        connection.execute(update(SmsMessage).where(by_id).values(
            state=MessageState.FAILED, reason=bindparam("why"), done_at=now
        ).execution_options(synchronize_session=False), failed)
    if retry:
        connection.execute(update(SmsMessage).where(by_id).values(
            state=MessageState.QUEUED, reason=bindparam("why"), next_try_at=bindparam("at")
        ).execution_options(synchronize_session=False), retry)
    if untried:
        connection.execute(update(SmsMessage).where(by_id).values(
            state=MessageState.QUEUED, reason=bindparam("why"), next_try_at=bindparam("at"),
            attempts=SmsMessage.attempts - 1,
        ).execution_options(synchronize_session=False), untried)
