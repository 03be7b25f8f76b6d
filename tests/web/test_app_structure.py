"""How the server is put together: what it owns is closed on clean-up, the SMS sub-apps keep their own
authentication outside the dashboard's guards, a route without a declared role fails closed, and a slow
database call in one handler leaves the event loop free for the others."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from webhelp import login, run_client

import robocall.web.reporting
from robocall.config import reset_settings
from robocall.web.keys import ENGINE, THREADS
from robocall.web.security import OWN_AUTH
from sms.web import SHARED, UNKNOWN_GATEWAY, webhook_headers


def _sub_app(app: web.Application, prefix: str) -> web.Application:
    for resource in app.router.resources():
        info = resource.get_info()
        if info.get("prefix") == prefix.rstrip("/"):
            return info["app"]  # type: ignore[no-any-return]
    raise AssertionError(f"no sub-app under {prefix}")


def test_the_sms_sub_apps_skip_the_dashboard_guards_but_refuse_unsigned_requests(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SMS_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("SMS_API_TOKEN", "api-token")
    reset_settings()
    app = make_app()
    assert OWN_AUTH in _sub_app(app, "/sms/") and OWN_AUTH in _sub_app(app, "/api/sms/")
    body = b'{"receipts": []}'

    async def scenario(client: TestClient) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        # No session cookie and no CSRF token anywhere below.
        unsigned = await client.post("/sms/receipts/nowhere", data=body)
        forged = await client.post("/sms/receipts/nowhere", data=body, headers=webhook_headers("wrong", body))
        signed = await client.post("/sms/receipts/nowhere", data=body, headers=webhook_headers("s3cret", body))
        twilio = await client.post("/sms/twilio/nowhere/status", data={"MessageSid": "SM1"})
        no_token = await client.get("/api/sms/campaigns")
        bearer = await client.get("/api/sms/campaigns", headers={"Authorization": "Bearer api-token"})
        dashboard_post = await client.post("/login", data={"username": "x"}, allow_redirects=False)
        seen["statuses"] = [unsigned.status, forged.status, signed.status, twilio.status, no_token.status,
                            bearer.status, dashboard_post.status]
        seen["signed_text"] = await signed.text()
        seen["bearer_json"] = await bearer.json()
        # The dashboard's middlewares did not run for the sub-apps: no security headers, no session cookie.
        seen["sub_app_headers"] = [("Content-Security-Policy" in r.headers, "Set-Cookie" in r.headers)
                                   for r in (unsigned, signed, bearer)]
        seen["dashboard_headers"] = "Content-Security-Policy" in dashboard_post.headers
        return seen

    seen = run_client(app, scenario)
    # 401 unsigned or forged HMAC; a signed call passes its own check without any CSRF token and reaches
    # the route (404: no such gateway); Twilio's hook without a gateway is 404 before any signature
    # is read; the API: 401 without its token, 200 with it; a dashboard POST without a CSRF token: 403.
    assert seen["statuses"] == [401, 401, 404, 404, 401, 200, 403]
    assert seen["signed_text"] == UNKNOWN_GATEWAY
    assert [c["name"] for c in seen["bearer_json"]] == ["Nhắc khai báo y tế"]  # the seeded SMS campaign
    assert seen["sub_app_headers"] == [(False, False)] * 3 and seen["dashboard_headers"] is True


def test_twilio_hooks_refuse_a_missing_signature(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SMS_GATEWAYS", '{"tw": {"kind": "twilio", "account_sid": "AC1", "auth_token": "t0k"}}')
    monkeypatch.setenv("SMS_ROUTES", "default=tw")
    reset_settings()

    async def scenario(client: TestClient) -> list[int]:
        return [(await client.post(f"/sms/twilio/tw/{hook}", data={"MessageSid": "SM1", "From": "+84912345678"})).status
                for hook in ("status", "inbound")]

    assert run_client(make_app(), scenario) == [403, 403]


@pytest.mark.parametrize("role", [None, "admin"], ids=["anonymous", "admin"])
def test_a_route_without_a_declared_role_fails_closed(make_app, role) -> None:  # type: ignore[no-untyped-def]
    async def undeclared(request: web.Request) -> web.Response:
        return web.Response(text="personal data")

    app = make_app()
    app.router.add_get("/undeclared", undeclared)
    nested = web.Application()  # a sub-app not mounted as authenticating itself meets the guards too
    nested.router.add_get("/page", undeclared)
    app.add_subapp("/nested/", nested)

    async def scenario(client: TestClient) -> list[tuple[int, str]]:
        await login(client, role)
        return [(r.status, await r.text()) for r in [await client.get("/undeclared", allow_redirects=False),
                                                     await client.get("/nested/page", allow_redirects=False)]]

    answers = run_client(app, scenario)
    assert len(answers) == 2
    assert all(status == 403 and "Không có quyền truy cập" in text for status, text in answers)  # the 403 page


def test_the_engine_and_threads_are_shared_and_closed_on_cleanup(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()

    async def scenario(client: TestClient) -> tuple[int, int, bool]:
        await login(client, "viewer")
        status = (await client.get("/campaigns")).status
        sms_engine = _sub_app(app, "/sms/")[SHARED].ctx.engine  # type: ignore[union-attr]
        return status, app[ENGINE].pool.checkedin(), sms_engine is app[ENGINE]

    status, idle_connections, one_engine = run_client(app, scenario)
    assert status == 200 and idle_connections >= 1 and one_engine  # the SMS routes use the server's engine
    assert app[ENGINE].pool.checkedin() == 0  # disposed: its connections closed
    with pytest.raises(RuntimeError, match="shutdown"):
        app[THREADS].submit(print)
    assert _sub_app(app, "/sms/")[SHARED].ctx is None  # the SMS context (Redis, gateways) closed too


def test_a_slow_database_call_does_not_stop_other_requests(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The report's query is held in its thread until /health has been served: with the query on the
    event loop, /health could only answer after it."""
    started, release = threading.Event(), threading.Event()
    real = robocall.web.reporting.provincial_report

    def held_report(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(timeout=10)
        return real(*args, **kwargs)

    monkeypatch.setattr(robocall.web.reporting, "provincial_report", held_report)
    order: list[str] = []

    async def scenario(client: TestClient) -> tuple[int, int, bool]:
        await login(client, "viewer")

        async def report() -> int:
            response = await client.get("/reports")
            order.append("report")
            return response.status

        slow = asyncio.create_task(report())
        while not started.is_set():
            await asyncio.sleep(0.01)
        health = await client.get("/health")
        order.append("health")
        held_meanwhile = not release.is_set()
        release.set()
        return health.status, await slow, held_meanwhile

    assert run_client(make_app(), scenario) == (200, 200, True)
    assert order == ["health", "report"]
