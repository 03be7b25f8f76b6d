"""`/metrics` for Prometheus: what the database and Redis hold, counted when Prometheus scrapes.

No counter is kept in the database for this: each scrape runs a few queries on indexed columns
(today's attempts by `day`, open escalations by `status`, SMS of the campaigns in progress by a walk
along the key), reads the RQ queues' lengths and the workers' heartbeats from Redis, and appends the
process's own metrics (robocall.process_metrics: webhook latency).  Labels are states, levels,
gateways, backends, queue and worker names: never a number, a name or a contact's id.

Protected by a bearer token (METRICS_TOKEN; empty: 404), compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from robocall.config import Settings
from robocall.models import CallAttempt, CallState, Escalation, EscalationStatus, stored_utc, utcnow
from robocall.queues import ALL, queue_name, redis_connection
from robocall.sms_models import CampaignKind, CampaignStatus, SmsCampaign, SmsMessage
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.security import public
from robocall.web.threads import in_thread

log = logging.getLogger(__name__)

# Line states of a call that is over; the answer rate is completed among them.
ENDED_STATES = (CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.MACHINE)
OPEN_ESCALATION = (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED)
# Campaigns whose messages are counted: those that may still change.
SMS_IN_PROGRESS = (CampaignStatus.LOADING, CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED)
# With no campaign in progress, the newest single messages (replies, health notices) are counted.
SMS_RECENT_IDS = 10_000


@dataclass(eq=False)  # the registry keys collectors by identity
class RoboCallCollector(Collector):
    """Counts from the database (`engine()`) and Redis (`redis()`) at each scrape."""

    engine: Callable[[], Engine]
    settings: Settings
    redis: Callable[[], Redis]

    def collect(self) -> Iterator[Metric]:
        # A source that does not answer is reported as down, and the scrape still succeeds with the rest
        # (and with the process's own metrics): Prometheus sees which one, not an HTTP 500.
        up = GaugeMetricFamily("robocall_collector_up", "1 when the collector could read a source at this scrape "
                               "(database, redis), else 0", labels=["source"])
        for source, read in (("database", self._database), ("redis", self._queues)):
            try:
                metrics = list(read())
            except Exception:
                log.warning("/metrics: the %s could not be read", source, exc_info=True)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from metrics
        yield up

    def _database(self) -> Iterator[Metric]:
        now = utcnow()
        with self.engine().connect() as connection:
            yield from self._calls(connection, now)
            yield from self._escalations(connection, now)
            yield from self._sms(connection)

    def _calls(self, connection: Connection, now: dt.datetime) -> Iterator[Metric]:
        today = now.astimezone(self.settings.tzinfo).date()
        state, backend, direction = col(CallAttempt.state), col(CallAttempt.backend), col(CallAttempt.direction)
        rows = connection.execute(
            select(state, backend, direction, func.count())
            .where(col(CallAttempt.day) == today, col(CallAttempt.channel) == "voice")
            .group_by(state, backend, direction)).all()
        calls = GaugeMetricFamily("robocall_calls", "Call attempts of today (local day), by line state, backend and direction",
                                  labels=["state", "backend", "direction"])
        ended = answered = 0
        for s, b, d, count in rows:
            calls.add_metric([s, b, d], count)
            if d == "outbound" and s in ENDED_STATES:
                ended += count
                answered += count if s == CallState.COMPLETED else 0
        yield calls
        rate = GaugeMetricFamily("robocall_answer_rate", "Share of today's ended outbound calls that were answered "
                                 "(completed among completed, busy, no answer, failed, machine)")
        rate.add_metric([], answered / ended if ended else 0.0)
        yield rate

    def _escalations(self, connection: Connection, now: dt.datetime) -> Iterator[Metric]:
        level, status, created = col(Escalation.level), col(Escalation.status), col(Escalation.created_at)
        levels = [lv for lv in self.settings.escalation_sla if lv != "default"]
        default_cutoff = now - dt.timedelta(minutes=self.settings.sla_minutes("default"))
        # Past its SLA: created before now - SLA(level), still not acknowledged.
        cutoff = case(*((level == lv, now - dt.timedelta(minutes=self.settings.sla_minutes(lv))) for lv in levels),
                      else_=default_cutoff) if levels else default_cutoff
        overdue = func.sum(case((and_(status == EscalationStatus.OPEN, created < cutoff), 1), else_=0))
        rows = connection.execute(
            select(level, status, func.count(), func.min(created), overdue)
            .where(status.in_(OPEN_ESCALATION)).group_by(level, status)).all()
        open_ = GaugeMetricFamily("robocall_escalations_open", "Escalations not resolved, by level and status "
                                  "(open: not yet acknowledged)", labels=["level", "status"])
        late = GaugeMetricFamily("robocall_escalations_overdue", "Escalations not acknowledged within their "
                                 "level's ESCALATION_SLA", labels=["level"])
        oldest = GaugeMetricFamily("robocall_escalations_oldest_seconds", "Age of the oldest escalation not yet "
                                   "acknowledged, by level", labels=["level"])
        overdue_by_level: dict[str, int] = {}
        oldest_by_level: dict[str, float] = {}
        for lv, st, count, first, late_count in rows:
            open_.add_metric([lv, st], count)
            overdue_by_level[lv] = overdue_by_level.get(lv, 0) + int(late_count or 0)
            if st == EscalationStatus.OPEN and first is not None:
                oldest_by_level[lv] = (now - stored_utc(first)).total_seconds()
        for lv, count in overdue_by_level.items():
            late.add_metric([lv], count)
        for lv, age in oldest_by_level.items():
            oldest.add_metric([lv], age)
        yield from (open_, late, oldest)

    def _sms(self, connection: Connection) -> Iterator[Metric]:
        first = connection.execute(
            select(func.min(col(SmsCampaign.loaded_from)))
            .where(col(SmsCampaign.kind) == CampaignKind.BROADCAST, col(SmsCampaign.status).in_(SMS_IN_PROGRESS))
        ).scalar()
        if first is None:
            newest = connection.execute(select(func.max(col(SmsMessage.id)))).scalar() or 0
            first = max(newest - SMS_RECENT_IDS, 0)
        gateway, state = col(SmsMessage.gateway), col(SmsMessage.state)
        rows = connection.execute(select(gateway, state, func.count()).where(col(SmsMessage.id) > first)
                                  .group_by(gateway, state)).all()
        sms = GaugeMetricFamily("robocall_sms_messages", "SMS of the campaigns in progress and the single messages "
                                "written since the oldest of them began (else the newest 10,000), by gateway and state",
                                labels=["gateway", "state"])
        for g, s, count in rows:
            sms.add_metric([g or "none", s], count)
        yield sms

    def _queues(self) -> Iterator[Metric]:
        redis = self.redis()
        jobs = GaugeMetricFamily("robocall_rq_jobs", "RQ jobs by queue and registry (queued, started, scheduled, "
                                 "failed)", labels=["queue", "state"])
        for name in ALL:
            q = Queue(queue_name(name), connection=redis)
            jobs.add_metric([name, "queued"], q.count)
            jobs.add_metric([name, "started"], q.started_job_registry.count)
            jobs.add_metric([name, "scheduled"], q.scheduled_job_registry.count)
            jobs.add_metric([name, "failed"], q.failed_job_registry.count)
        yield jobs
        workers = GaugeMetricFamily("robocall_rq_workers", "RQ workers registered in Redis, by queue they work",
                                    labels=["queue"])
        beat = GaugeMetricFamily("robocall_rq_worker_heartbeat_age_seconds", "Seconds since each RQ worker's last "
                                 "heartbeat (a worker that stops beating is gone from Redis after its TTL)",
                                 labels=["worker", "host"])
        prefix = f"{self.settings.queue_prefix}:"
        per_queue = dict.fromkeys(ALL, 0)
        now = utcnow()
        for worker in Worker.all(connection=redis):
            ours = [q.removeprefix(prefix) for q in worker.queue_names() if q.startswith(prefix)]
            if not ours:
                continue  # another deployment's worker on the same Redis
            for name in ours:
                per_queue[name] = per_queue.get(name, 0) + 1
            if worker.last_heartbeat is not None:
                beat.add_metric([worker.name, worker.hostname or ""],
                                max((now - stored_utc(worker.last_heartbeat)).total_seconds(), 0.0))
        for name, count in per_queue.items():
            workers.add_metric([name], count)
        yield from (workers, beat)


METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


def add_metrics_route(app: web.Application) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RoboCallCollector(engine=lambda: app[ENGINE], settings=app[SETTINGS], redis=redis_connection))
    app[METRICS_REGISTRY] = registry
    app.router.add_get("/metrics", metrics)


def _scrape(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry) + generate_latest(REGISTRY)


@public  # not the dashboard's login: Prometheus sends METRICS_TOKEN as a bearer token
async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if not token:
        raise web.HTTPNotFound(text="metrics are off: set METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise web.HTTPUnauthorized(text="Authorization: Bearer METRICS_TOKEN expected",
                                   headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body = await in_thread(request, _scrape, request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
