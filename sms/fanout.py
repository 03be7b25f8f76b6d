"""Campaigns through RQ: one job per batch of message ids, and the loop that drives a campaign to its end.

The driver is the clock (like simulator.clock): it starts scheduled
campaigns when their time comes, waits out quiet hours, queues a job per
SMS_BATCH_SIZE due messages, waits for them, and queues again for retries and
for messages a dead worker left behind, until nothing is outstanding.  Any
process can drive a campaign again (`sms resume`): all it needs is in the
database, and jobs are safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.engine import Engine

from robocall import queues
from robocall.conversations.sms_declaration import expire_dialogues
from robocall.logging_setup import log_context
from robocall.models import utcnow
from robocall.outages import OUTAGES, Outage
from robocall.queues import SMS, JobsUnfinished, job_data, job_statuses, queue_name, wait_for_jobs
from robocall.sms_models import (
    CampaignKind,
    CampaignStatus,
    MessageState,
    SmsCampaign,
    SmsMessage,
)
from sms.campaigns import CampaignFigures, LoadSummary, figures, loading_progress
from sms.context import SmsContext, worker_context
from sms.send import _due, send_batch

log = logging.getLogger(__name__)


def send_batch_job(campaign_id: int, first_id: int, last_id: int) -> dict[str, object]:
    """RQ job: send the due messages of campaign `campaign_id` with ids in [first_id, last_id]."""
    with log_context(campaign_id=campaign_id, message_id=first_id if first_id == last_id else None):
        return send_batch(worker_context(), campaign_id, first_id, last_id).to_json()


def due_ranges(engine: Engine, campaign_id: int, batch_size: int, now: dt.datetime,
               lease: dt.timedelta, after_id: int = 0) -> list[tuple[int, int]]:
    """(first id, last id) of each run of `batch_size` due messages with ids above `after_id`.  The database
    numbers the due messages and returns only each run's ends: two rows a batch, not a row a message."""
    numbered = select(SmsMessage.id, func.row_number().over(order_by=SmsMessage.id).label("n"),
                      func.count().over().label("total")).where(
        SmsMessage.campaign_id == campaign_id, SmsMessage.id > after_id, _due(now, now - lease)).subquery()
    query = select(numbered.c.id, numbered.c.n, numbered.c.total).where(or_(
        numbered.c.n % batch_size == 1 % batch_size, numbered.c.n % batch_size == 0,
        numbered.c.n == numbered.c.total)).order_by(numbered.c.id)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Walk the primary key from `after_id`: on a table loaded faster than its statistics follow
            # (no autovacuum yet, or none at all), the planner read the whole table every 0.2 s while a
            # list loaded.  For this statement only.
            connection.execute(text("SET LOCAL enable_seqscan = off"))
        ends = connection.execute(query).all()
    ranges: list[tuple[int, int]] = []
    first: int | None = None
    for message_id, n, total in ends:
        if (n - 1) % batch_size == 0:
            first = message_id
        if first is not None and (n % batch_size == 0 or n == total):
            ranges.append((first, message_id))
            first = None
    return ranges


def id_batches(after_id: int, up_to: int, batch_size: int) -> list[tuple[int, int]]:
    """Whole runs of `batch_size` ids in (after_id, up_to]: a list still loading is cut into batches by
    id alone (its messages' ids are consecutive unless another campaign wrote meanwhile; a batch sends
    only its own campaign's due messages)."""
    return [(first, first + batch_size - 1) for first in range(after_id + 1, up_to - batch_size + 2, batch_size)]


def enqueue_due(ctx: SmsContext, queue: Queue, campaign_id: int, now: dt.datetime | None = None) -> list[str]:
    now = now or utcnow()
    _, loaded_from, _ = loading_progress(ctx.engine, campaign_id)  # its messages' ids start above this
    return enqueue_ranges(queue, campaign_id, due_ranges(ctx.engine, campaign_id, ctx.policy.batch_size, now,
                                                         ctx.policy.submit_lease, after_id=loaded_from or 0))


def enqueue_ranges(queue: Queue, campaign_id: int, ranges: list[tuple[int, int]], timeout: int = 3600) -> list[str]:
    jobs = queue.enqueue_many([job_data(send_batch_job, campaign_id, first, last, timeout=timeout)
                               for first, last in ranges])
    return [job.id for job in jobs]


def queue_single_messages(items: list[tuple[int, int]]) -> None:
    """The outbox's sender (wired by the composition roots): one batch job per message just committed.

    A queueing lost here (Redis down) is made good by ``robocall sms run``: the row is the truth.
    """
    try:
        queues.queue(SMS).enqueue_many([job_data(send_batch_job, campaign_id, message_id, message_id, timeout=600)
                                 for campaign_id, message_id in items])
    except RedisError as exc:
        log.warning("%d SMS written but not queued (%s): `robocall sms run` queues them again", len(items), exc)


def next_due(engine: Engine, campaign_id: int, lease: dt.timedelta) -> dt.datetime | None:
    """When the next waiting message becomes due (retry time, or a dead worker's lease running out)."""
    with engine.connect() as connection:
        retry = connection.execute(select(func.min(SmsMessage.next_try_at)).where(
            SmsMessage.campaign_id == campaign_id, SmsMessage.state == MessageState.QUEUED)).scalar()
        stuck = connection.execute(select(func.min(SmsMessage.submitted_at)).where(
            SmsMessage.campaign_id == campaign_id, SmsMessage.state == MessageState.SUBMITTED)).scalar()
    candidates = [t for t in (retry, stuck + lease if stuck else None) if t is not None]
    return min(candidates) if candidates else None


def start_due_campaigns(engine: Engine, now: dt.datetime | None = None) -> list[int]:
    """Scheduled campaigns whose time has come become running."""
    now = now or utcnow()
    with engine.begin() as connection:
        return list(connection.execute(update(SmsCampaign).where(
            SmsCampaign.status == CampaignStatus.SCHEDULED, SmsCampaign.send_at <= now,
        ).values(status=CampaignStatus.RUNNING).returning(SmsCampaign.id)).scalars())


def is_standing(engine: Engine, campaign_id: int) -> bool:
    """The transactional campaign (robocall/conversations/outbox.py): never finished, not held back by quiet hours."""
    with engine.connect() as connection:
        kind = connection.execute(select(SmsCampaign.kind).where(SmsCampaign.id == campaign_id)).scalar()
    return kind == CampaignKind.TRANSACTIONAL


_NOT_BEGUN = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def _wait_for_batches(ctx: SmsContext, job_ids: list[str], progress: Callable[[], None]) -> None:
    """Until the batch jobs end, or SMS_SUBMIT_LEASE_SECONDS pass with none of them ending.  A worker (or
    its host) that dies holding a job leaves it `started` in RQ for good, so waiting for it would stop the
    campaign; once the others are done and the lease has passed, the messages it had claimed are due again
    and the next round queues them (and any it had not reached) for the living workers.  Jobs still in the
    queue are waited for: a worker will take them.  (Waiting one lease for the whole round instead queued
    a second job for every batch not yet begun whenever a round took longer than the lease, or all workers
    were restarting: 200 needless jobs a round in a 100,000-message campaign.)  A job that is merely slow
    loses nothing either: claims are atomic, so the new job and the old one never send one message twice."""
    remaining = job_ids
    while remaining:
        try:
            wait_for_jobs(remaining, ctx.redis, timeout=max(ctx.policy.submit_lease.total_seconds(), 1.0),
                          tick=progress, poll=0.05)
            return
        except JobsUnfinished:
            statuses = dict(zip(remaining, job_statuses(remaining, ctx.redis)))
            unfinished = [job_id for job_id in remaining if statuses[job_id] != JobStatus.FINISHED]
            # Jobs not begun yet are taken by the next worker to come (all of them may be restarting):
            # queueing their messages again would only double the queue.
            waiting = any(statuses[job_id] in _NOT_BEGUN for job_id in unfinished)
            if len(unfinished) == len(remaining) and not waiting:
                log.warning("%d SMS batch jobs unfinished after the submit lease: queueing what is due again",
                            len(unfinished))
                return
            remaining = unfinished


def drive(ctx: SmsContext, campaign_id: int, on_progress: Callable[[CampaignFigures], None] | None = None,
          max_wait: float | None = None, clock: Callable[[], dt.datetime] = utcnow,
          on_quiet: Callable[[dt.datetime], None] | None = None) -> CampaignFigures:
    """Send campaign `campaign_id` to the end (or until paused/cancelled, or `max_wait` seconds of idling).
    The transactional campaign has no end: it returns once nothing is outstanding, still running.
    `on_quiet(until)` is told once each time sending waits for quiet hours to end (a person watching
    would otherwise see nothing move for hours)."""
    queue = Queue(queue_name(SMS), connection=ctx.redis)
    started = time.monotonic()
    standing = is_standing(ctx.engine, campaign_id)

    shown_at, cost = 0.0, 0.0

    def progress() -> None:
        # Counting a million messages by state takes a while: show figures no more often than every
        # ten times what counting them costs, so the progress bar never slows the campaign much.
        nonlocal shown_at, cost
        if on_progress and time.monotonic() - shown_at >= 10 * cost:
            begun = time.monotonic()
            on_progress(figures(ctx.engine, campaign_id))
            shown_at, cost = time.monotonic(), time.monotonic() - begun

    told_until: dt.datetime | None = None

    def waiting_for_quiet_hours(now: dt.datetime) -> dt.datetime:
        nonlocal told_until
        until = ctx.policy.quiet_hours.ends_after(now)
        if on_quiet is not None and until != told_until:
            on_quiet(until)
        told_until = until
        return until

    loading_jobs: list[str] = []  # queued while the list was loading
    queued_up_to: int | None = None  # messages up to this id have their job

    def one_round() -> CampaignFigures | float:
        """The campaign's end, or how long to wait before the next round."""
        nonlocal loading_jobs, queued_up_to
        now = clock()
        start_due_campaigns(ctx.engine, now)
        status, loaded_from, loaded_up_to = loading_progress(ctx.engine, campaign_id)
        if status == CampaignStatus.LOADING:
            if ctx.policy.quiet_hours.quiet(now) and not standing:
                waiting_for_quiet_hours(now)
            else:
                # Whole batches as they are loaded (the rest, and retries, once the list is in).
                after = queued_up_to if queued_up_to is not None else loaded_from or 0
                ranges = id_batches(after, loaded_up_to, ctx.policy.batch_size) if loaded_up_to is not None else []
                loading_jobs += enqueue_ranges(queue, campaign_id, ranges)
                queued_up_to = ranges[-1][1] if ranges else queued_up_to
            progress()
            return 0.2
        if loading_jobs and status == CampaignStatus.RUNNING:
            # The list is in: let the jobs queued meanwhile end, then queue what is left.  (Paused or
            # cancelled instead: those jobs will find nothing to send; nobody needs to wait for them.)
            _wait_for_batches(ctx, loading_jobs, progress)
            status, _, _ = loading_progress(ctx.engine, campaign_id)
        loading_jobs = []
        # The status alone: figures() counts every message by state (a whole campaign's rows read),
        # which only the rounds that end or check what is outstanding need.
        if status != CampaignStatus.RUNNING:
            if status != CampaignStatus.SCHEDULED:
                return figures(ctx.engine, campaign_id)
            with ctx.engine.connect() as connection:
                send_at = connection.execute(select(SmsCampaign.send_at).where(SmsCampaign.id == campaign_id)).scalar()
            wake = send_at
        elif ctx.policy.quiet_hours.quiet(now) and not standing:
            wake = waiting_for_quiet_hours(now)
        else:
            job_ids = enqueue_due(ctx, queue, campaign_id, now)
            if job_ids:
                _wait_for_batches(ctx, job_ids, progress)
                ctx.drain_receipts()
                progress()
                return 0.0
            current = figures(ctx.engine, campaign_id)
            if current.outstanding == 0 and standing:
                return current
            if current.outstanding == 0:
                with ctx.engine.begin() as connection:
                    connection.execute(update(SmsCampaign).where(
                        SmsCampaign.id == campaign_id, SmsCampaign.status == CampaignStatus.RUNNING,
                    ).values(status=CampaignStatus.FINISHED, finished_at=clock()))
                ctx.drain_receipts()
                final = figures(ctx.engine, campaign_id)
                if on_progress:
                    on_progress(final)
                return final
            wake = next_due(ctx.engine, campaign_id, ctx.policy.submit_lease)
        if max_wait is not None and time.monotonic() - started > max_wait:
            return figures(ctx.engine, campaign_id)
        delay = (wake - clock()).total_seconds() if wake else 1.0
        progress()
        return min(max(delay, 0.05), 5.0)


    outage = Outage("SMS driver")
    while True:
        try:
            outcome = one_round()
        except OUTAGES as exc:
            # Redis or the database restarting, or a job that failed on their account: everything is in
            # the database, so the next round queues again what is due (claims in doubt after the lease).
            loading_jobs = []
            time.sleep(outage.failed(exc))
            continue
        outage.over()
        if isinstance(outcome, CampaignFigures):
            return outcome
        time.sleep(outcome)


class LoadFailed(Exception):
    """Reading the list failed (the cause is chained); the campaign, if made, is paused with what was read."""

    def __init__(self, campaign_id: int | None) -> None:
        super().__init__(f"loading campaign {campaign_id} failed" if campaign_id else "creating the campaign failed")
        self.campaign_id = campaign_id


def send_while_loading(ctx: SmsContext, load: Callable[..., LoadSummary],
                       send: Callable[[int], CampaignFigures] | None = None) -> tuple[LoadSummary, CampaignFigures]:
    """Run `load` (sms.campaigns.create_campaign with its arguments bound) in a thread with stream=True,
    while this thread sends what it loads (`send(campaign_id)`, drive() by default): sending starts with
    the first chunk instead of after the whole list (a minute for a million numbers)."""
    created: queue.Queue[int | None] = queue.Queue()
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["summary"] = load(stream=True, on_created=created.put)
        except BaseException as exc:  # raised again below, in the caller's thread
            outcome["error"] = exc
            created.put(None)

    loader = threading.Thread(target=read, name="sms-load", daemon=True)
    loader.start()
    campaign_id = created.get()
    final = (send or (lambda cid: drive(ctx, cid)))(campaign_id) if campaign_id is not None else None
    loader.join()
    if "error" in outcome:
        raise LoadFailed(campaign_id) from outcome["error"]
    assert final is not None
    return outcome["summary"], final


def run_forever(ctx: SmsContext, every: float = 1.0, rounds: int | None = None) -> None:
    """Drive every running or scheduled campaign (those created through the HTTP API, or left behind by
    a `sms send` that was interrupted): start them on time, queue what is due, finish them. One process
    is enough; a campaign's jobs are queued again only once its previous ones have ended.  It also
    closes the SMS declarations nobody answered in time (their answers and escalations are recorded)."""
    queue = Queue(queue_name(SMS), connection=ctx.redis)
    pending: dict[int, list[str]] = {}
    done = 0
    outage = Outage("SMS run")
    while rounds is None or done < rounds:
        try:
            now = utcnow()
            start_due_campaigns(ctx.engine, now)
            ctx.drain_receipts()
            expire_dialogues(ctx.engine, ctx.declarations, now)
            with ctx.engine.connect() as connection:
                running = connection.execute(select(SmsCampaign.id, SmsCampaign.kind).where(
                    SmsCampaign.status == CampaignStatus.RUNNING)).all()
            quiet = ctx.policy.quiet_hours.quiet(now)
            for campaign_id, kind in running:
                standing = kind == CampaignKind.TRANSACTIONAL  # replies and health notices: no quiet hours, no end
                if quiet and not standing:
                    continue
                jobs = [j for j in Job.fetch_many(pending.get(campaign_id, []), connection=ctx.redis) if j]
                if any(j.get_status(refresh=False) not in (JobStatus.FINISHED, JobStatus.FAILED,
                                                            JobStatus.STOPPED, JobStatus.CANCELED) for j in jobs):
                    continue
                pending[campaign_id] = enqueue_due(ctx, queue, campaign_id, now)
                if not pending[campaign_id] and not standing and figures(ctx.engine, campaign_id).outstanding == 0:
                    with ctx.engine.begin() as connection:
                        connection.execute(update(SmsCampaign).where(
                            SmsCampaign.id == campaign_id, SmsCampaign.status == CampaignStatus.RUNNING,
                        ).values(status=CampaignStatus.FINISHED, finished_at=utcnow()))
        except OUTAGES as exc:  # Redis or the database restarting: the next round goes on from the database
            pending.clear()
            time.sleep(outage.failed(exc))
            continue
        outage.over()
        done += 1
        time.sleep(every)
