"""/ready, /metrics and the request id: what an operator's Prometheus and load balancer read."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from webhelp import run_client

from robocall.config import reset_settings
from robocall.models import CallAttempt, CallState, utcnow
from robocall.queues import CALLS, queue
from robocall.sms_models import CampaignStatus, SmsCampaign, SmsMessage

TOKEN = "scrape-me-please"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def get_json(app: web.Application, path: str) -> tuple[int, Any]:
    async def scenario(client: TestClient) -> tuple[int, Any]:
        response = await client.get(path)
        return response.status, await response.json()
    result: tuple[int, Any] = run_client(app, scenario)
    return result


def test_ready_names_each_check_and_passes_when_all_answer(redis_url, make_app) -> None:  # type: ignore[no-untyped-def]
    status, body = get_json(make_app(), "/ready")
    assert status == 200
    assert body["status"] == "ready"
    assert {c["name"]: c["ok"] for c in body["checks"]} == {"database": True, "redis": True}


def _closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ready_is_503_naming_the_gateway_that_does_not_answer_without_its_address(
        redis_url, make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    port = _closed_port()
    monkeypatch.setenv("SMS_GATEWAYS", json.dumps({
        "sim": {"kind": "sim"},
        "viettel": {"kind": "smpp", "host": "127.0.0.1", "port": port, "password": "s3cret-smpp"}}))
    monkeypatch.setenv("SMS_ROUTES", "default=sim")
    reset_settings()
    status, body = get_json(make_app(), "/ready")
    assert status == 503
    assert body["status"] == "not ready"
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["sms_gateway:viettel"]["ok"] is False
    assert checks["sms_gateway:viettel"]["error"] == "refused"
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    shown = json.dumps(body)
    assert str(port) not in shown and "127.0.0.1" not in shown and "s3cret" not in shown


def _fake_ami(banner: bytes) -> Callable[[], Awaitable[asyncio.Server]]:
    async def start() -> asyncio.Server:
        async def greet(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(banner)
            await writer.drain()
            writer.close()
        return await asyncio.start_server(greet, "127.0.0.1", 0)
    return start


@pytest.mark.parametrize(("banner", "ok"), [(b"Asterisk Call Manager/9.0.0\r\n", True), (b"SSH-2.0-OpenSSH\r\n", False)])
def test_ready_checks_each_asterisk_manager_by_its_banner(redis_url, make_app, monkeypatch,  # type: ignore[no-untyped-def]
                                                          banner, ok) -> None:
    async def main() -> tuple[int, Any]:
        server = await _fake_ami(banner)()
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("TELEPHONY_BACKEND", "asterisk")
        monkeypatch.setenv("ASTERISK_SERVERS", json.dumps({
            "hue1": {"host": "127.0.0.1", "ami_port": port}, "hue2": {"host": "127.0.0.1", "ami_port": _closed_port()}}))
        reset_settings()
        from aiohttp.test_utils import TestServer
        async with server, TestClient(TestServer(make_app())) as client:
            response = await client.get("/ready")
            return response.status, await response.json()
    status, body = asyncio.run(main())
    checks = {c["name"]: c for c in body["checks"]}
    assert status == 503  # hue2 never answers
    assert checks["asterisk:hue1"]["ok"] is ok
    assert checks["asterisk:hue2"] == {**checks["asterisk:hue2"], "ok": False, "error": "refused"}
    if not ok:
        assert checks["asterisk:hue1"]["error"] == "not an Asterisk manager interface"


def _scrape(app: web.Application, headers: dict[str, str] | None = None,
            before: Callable[[TestClient], Awaitable[None]] | None = None) -> tuple[int, str, dict[str, str]]:
    async def scenario(client: TestClient) -> tuple[int, str, dict[str, str]]:
        if before is not None:
            await before(client)
        response = await client.get("/metrics", headers=headers or {})
        return response.status, await response.text(), dict(response.headers)
    result: tuple[int, str, dict[str, str]] = run_client(app, scenario)
    return result


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert _scrape(make_app())[0] == 404
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    reset_settings()
    status, _, headers = _scrape(make_app(), {"Authorization": "Bearer wrong"})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert _scrape(make_app())[0] == 401


def test_metrics_count_calls_escalations_queues_workers_and_webhooks(
        redis_url, seeded, make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine: Engine = seeded[0]
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    reset_settings()
    today = utcnow().astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    with DbSession(engine) as db:
        for state in (CallState.COMPLETED, CallState.COMPLETED, CallState.NO_ANSWER, CallState.DIALLING):
            db.add(CallAttempt(phone="+84912999999", flow="f1_f2_followup", day=today, state=state, backend="asterisk"))
        db.commit()
    redis = Redis.from_url(redis_url)
    queue(CALLS, redis).enqueue("robocall.campaigns.jobs.place_call_job", 1, "2021-08-11T00:00:00+00:00")
    worker = Worker([queue(CALLS, redis)], connection=redis, name="robocall-test-worker")
    worker.register_birth()
    worker.heartbeat()

    async def webhook(client: TestClient) -> None:
        response = await client.post("/sms/receipts/sim", data=b"{}")  # unsigned: refused, and timed
        assert response.status == 401

    status, text, headers = _scrape(make_app(), {"Authorization": f"Bearer {TOKEN}"}, before=webhook)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    found = samples(text)
    calls = {labels: v for (name, labels), v in found.items() if name == "robocall_calls"}
    assert calls[(("backend", "asterisk"), ("direction", "outbound"), ("state", "completed"))] == 2
    assert calls[(("backend", "asterisk"), ("direction", "outbound"), ("state", "dialling"))] == 1
    assert found[("robocall_answer_rate", ())] == pytest.approx(2 / 3)
    open_ = {labels: v for (name, labels), v in found.items() if name == "robocall_escalations_open"}
    assert open_[(("level", "urgent"), ("status", "open"))] == 2 and open_[(("level", "watch"), ("status", "acknowledged"))] == 1
    assert all(dict(labels)["status"] in ("open", "acknowledged") for labels in open_)  # resolved ones are not
    # SLA urgent=30 min: the 45-minute-old urgent case is overdue, the 5-minute one is not; home_visit has 720.
    assert found[("robocall_escalations_overdue", (("level", "urgent"),))] == 1
    assert found[("robocall_escalations_overdue", (("level", "home_visit"),))] == 0
    assert 45 * 60 <= found[("robocall_escalations_oldest_seconds", (("level", "urgent"),))] < 50 * 60
    assert found[("robocall_rq_jobs", (("queue", "calls"), ("state", "queued")))] == 1
    assert found[("robocall_rq_workers", (("queue", "calls"),))] == 1
    assert ("robocall_rq_worker_heartbeat_age_seconds",
            (("host", worker.hostname), ("worker", "robocall-test-worker"))) in found
    assert found[("robocall_webhook_seconds_count", (("route", "/sms/receipts/{gateway}"),))] >= 1
    assert ("robocall_fastagi_sessions", ()) in found
    assert "+849" not in text and "Nguyễn" not in text  # no personal data in labels


def test_every_response_carries_a_request_id_and_a_proxy_id_is_kept(make_app) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> tuple[str, str, str]:
        mine = await client.get("/health")
        kept = await client.get("/health", headers={"X-Request-ID": "nginx-0123456789abcdef"})
        bad = await client.get("/health", headers={"X-Request-ID": "x\"; drop"})
        refused = await client.get("/metrics", headers={"X-Request-ID": "nginx-refused-000001"})  # an error response
        assert refused.status == 404 and refused.headers["X-Request-ID"] == "nginx-refused-000001"
        return mine.headers["X-Request-ID"], kept.headers["X-Request-ID"], bad.headers["X-Request-ID"]
    mine, kept, bad = run_client(make_app(), scenario)
    assert len(mine) == 32 and kept == "nginx-0123456789abcdef" and bad != "x\"; drop"


def test_a_source_that_does_not_answer_is_reported_down_not_a_500(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    reset_settings()
    status, text, _ = _scrape(make_app(), {"Authorization": f"Bearer {TOKEN}"})
    found = samples(text)
    assert status == 200
    assert found[("robocall_collector_up", (("source", "redis"),))] == 0
    assert found[("robocall_collector_up", (("source", "database"),))] == 1
    assert ("robocall_answer_rate", ()) in found and not any(name == "robocall_rq_jobs" for name, _ in found)


def test_sms_are_counted_for_the_campaigns_in_progress_only(seeded, make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine: Engine = seeded[0]
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    reset_settings()
    with DbSession(engine) as db:
        old = SmsCampaign(template="cũ", status=CampaignStatus.FINISHED, loaded_from=0)
        db.add(old)
        db.flush()
        db.add_all([SmsMessage(campaign_id=old.id or 0, phone=f"+8491300000{i}", gateway="viettel", state="delivered")
                    for i in range(4)])
        db.flush()
        newest = db.scalar(select(func.max(SmsMessage.id))) or 0
        running = SmsCampaign(template="mới", status=CampaignStatus.RUNNING, loaded_from=newest)
        db.add(running)
        db.flush()
        states = ["delivered", "delivered", "queued"]
        db.add_all([SmsMessage(campaign_id=running.id or 0, phone=f"+8491400000{i}", gateway="viettel", state=s)
                    for i, s in enumerate(states)])
        db.commit()
    status, text, _ = _scrape(make_app(), {"Authorization": f"Bearer {TOKEN}"})
    sms = {labels: v for (name, labels), v in samples(text).items() if name == "robocall_sms_messages"}
    assert status == 200
    assert sms == {(("gateway", "viettel"), ("state", "delivered")): 2, (("gateway", "viettel"), ("state", "queued")): 1}
