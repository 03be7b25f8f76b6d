"""Every route, every role: anonymous requests and too-low roles are refused, the rest served."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from webhelp import csrf_of, login, run_client

from robocall.config import reset_settings
from robocall.web.security import OWN_AUTH, REQUIRED_ROLE
from sms.web import BAD_SIGNATURE

ROLES = [None, "viewer", "cdc_staff", "admin"]
RANK = {None: -1, "viewer": 0, "cdc_staff": 1, "admin": 2}

# (method, path, least role or "public").  {urgent} etc. are seeded ids.
ROUTES = [
    ("GET", "/health", "public"),
    ("GET", "/ready", "public"),
    ("GET", "/metrics", "public"),  # its own bearer token (METRICS_TOKEN); 404 while unset
    ("GET", "/flows", "public"),
    ("GET", "/", "public"),
    ("GET", "/login", "public"),
    ("POST", "/login", "public"),
    ("GET", "/api/v1/openapi.json", "public"),
    ("GET", "/audio/" + "0" * 32 + ".mp3", "public"),  # prompt audio: Twilio fetches it (404: not rendered)
    ("GET", "/escalations", "viewer"),
    ("GET", "/escalations?partial=1&level=urgent", "viewer"),
    ("GET", "/escalations/{urgent_old}", "viewer"),
    ("GET", "/escalations/stream", "viewer"),
    ("GET", "/contacts/{contact_0}", "viewer"),
    ("GET", "/contacts?q=An", "viewer"),
    ("GET", "/lists", "viewer"),
    ("GET", "/lists/symptomatic", "viewer"),
    ("GET", "/lists/non_reporting", "viewer"),
    ("GET", "/lists/monitoring", "viewer"),
    ("GET", "/lists/closed", "viewer"),
    ("GET", "/lists/monitoring/export.csv", "viewer"),
    ("GET", "/campaigns", "viewer"),
    ("GET", "/campaigns/{campaign}", "viewer"),
    ("GET", "/sms-campaigns", "viewer"),
    ("GET", "/sms-campaigns/{sms_campaign}", "viewer"),
    ("GET", "/diagrams", "viewer"),
    ("GET", "/diagrams/hotline", "viewer"),
    ("GET", "/diagrams/hotline/diagram.svg", "viewer"),
    ("GET", "/reports?from=2021-08-11&to=2021-08-13", "viewer"),
    ("GET", "/reports/export.csv", "viewer"),
    ("GET", "/reports/export.xlsx", "viewer"),
    ("GET", "/api/v1/session", "viewer"),
    ("GET", "/api/v1/escalations", "viewer"),
    ("GET", "/api/v1/escalations/{urgent_old}", "viewer"),
    ("GET", "/api/v1/lists/symptomatic", "viewer"),
    ("GET", "/api/v1/contacts?q=An", "viewer"),
    ("GET", "/api/v1/campaigns", "viewer"),
    ("GET", "/api/v1/campaigns/{campaign}", "viewer"),
    ("GET", "/api/v1/report", "viewer"),
    ("POST", "/logout", "viewer"),
    ("POST", "/escalations/{urgent_old}/acknowledge", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/assign", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/note", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/callback", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/tasks/{task}/done", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/tasks/{task_2}/cancel", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/resolve", "cdc_staff"),
    ("POST", "/escalations/{urgent_old}/reopen", "cdc_staff"),
    ("POST", "/escalations/{hotline_case}/reveal", "cdc_staff"),
    ("POST", "/escalations/{hotline_case}/contact", "cdc_staff"),
    ("POST", "/escalations/bulk", "cdc_staff"),
    ("POST", "/contacts/{contact_0}/reveal", "cdc_staff"),
    ("POST", "/contacts/{contact_0}/edit", "cdc_staff"),
    ("GET", "/home-visits?commune=Vinh+H%C6%B0ng", "viewer"),
    ("POST", "/sms-campaigns/{sms_campaign}/pause", "cdc_staff"),
    ("POST", "/sms-campaigns/{sms_campaign}/resume", "cdc_staff"),
    ("POST", "/sms-campaigns/{sms_campaign}/cancel", "cdc_staff"),
    ("POST", "/api/v1/escalations/{urgent_old}/actions", "cdc_staff"),
    ("GET", "/audit", "admin"),
    ("GET", "/api/v1/audit", "admin"),
    ("GET", "/users", "admin"),
    ("GET", "/settings", "admin"),
    ("POST", "/users", "admin"),
    ("POST", "/users/{user_viewer}", "admin"),
    ("POST", "/users/{user_viewer}/unlock", "admin"),
]
FORMS = {"{user_viewer}": {"role": "viewer", "active": "1"}, "assign": {"assignee": "can_bo"},
         "note": {"text": "đã gọi"}, "resolve": {"outcome": "tested"},
         "callback": {"kind": "staff_call", "due": "2099-01-01T09:00"}, "done": {"result": "đã gọi, ổn"},
         "contact": {"name": "Người gọi đến", "address": "5 Lê Lợi"}, "edit": {"address": "12 Lê Lợi"},
         "bulk": {"ids": "{urgent_new}", "action": "acknowledge"},
         "users": {"username": "moi", "role": "viewer", "password": "cây bàng trước cổng trạm y tế"}}


def test_every_registered_route_is_in_the_table_and_declares_a_role(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    listed = {(m, p.split("?")[0]) for m, p, _ in ROUTES}
    own_auth = {route for resource in app.router.resources() if OWN_AUTH in resource.get_info().get("app", {})
                for route in resource}
    missing = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if route.method == "HEAD" or path.startswith("/static") or route in own_auth:
            continue  # static files; SMS callbacks and API authenticate each request themselves
        assert getattr(route.handler, REQUIRED_ROLE, None) is not None, f"{route.method} {path} declares no role"
        generic = path.replace("{id}", "{x}").replace("{kind}", "{x}").replace("{name}", "{x}").replace(
            "{action}", "{x}").replace("{ext}", "{x}").replace("{task}", "{x}").replace("{control}", "{x}")
        if not any(_matches(generic, m, p) for m, p in listed if m == route.method):
            missing.append(f"{route.method} {path}")
    assert missing == []


def _matches(generic: str, method: str, concrete: str) -> bool:
    import re
    pattern = "^" + re.escape(generic).replace(r"\{x\}", "[^/]+") + "$"
    return re.match(pattern, re.sub(r"\{\w+\}", "1", concrete)) is not None


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_each_route_refuses_or_serves_by_role(make_app, seeded, role) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded

    async def scenario(client: TestClient) -> list[str]:
        await login(client, role)
        wrong = []
        for method, template, least in ROUTES:
            path = template.format(**ids)
            if method == "POST":
                token = await csrf_of(client, "/login")
                if path.startswith("/api/"):
                    response = await client.post(path, json={"action": "note", "text": "x"},
                                                 headers={"X-CSRF-Token": token}, allow_redirects=False)
                else:
                    extra = {k: v.format(**ids) for k, v in FORMS.get(template.rsplit("/", 1)[-1], {}).items()}
                    response = await client.post(path, data={"csrf_token": token, **extra}, allow_redirects=False)
            else:
                response = await client.get(path, allow_redirects=False)
            status = response.status
            response.close()  # the event stream never ends by itself
            if least == "public":
                ok = status < 500 and status != 403
            elif RANK[role] >= RANK[least]:
                ok = status in (200, 303) or (path in ("/logout", "/lists") and status == 302)
            elif role is None:
                ok = status == (401 if path.startswith("/api/") else 302) and (
                    path.startswith("/api/") or response.headers["Location"].startswith("/login"))
            else:
                ok = status == 403
            if not ok:
                wrong.append(f"{method} {path} as {role}: {status}")
            if path in ("/logout", "/login") and ok and role:
                await login(client, role)  # carry on logged in
        return wrong

    assert run_client(make_app(), scenario) == []


def test_only_the_sms_prefixes_bypass_the_session_guards(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Anonymous, no CSRF token: the SMS sub-apps answer by their own scheme, every other path meets the guards."""
    monkeypatch.setenv("SMS_API_TOKEN", "api-token")
    reset_settings()

    async def scenario(client: TestClient) -> dict[str, tuple[int, str]]:
        answers = {}
        for method, path in [("POST", "/sms/receipts/viettel"), ("GET", "/api/sms/campaigns"), ("POST", "/smsx"),
                             ("GET", "/api/v1/escalations"), ("GET", "/escalations")]:
            response = await client.request(method, path, allow_redirects=False)
            answers[path] = (response.status, await response.text())
        return answers

    answers = run_client(make_app(), scenario)
    assert answers["/sms/receipts/viettel"] == (401, BAD_SIGNATURE)  # own auth: HMAC
    assert answers["/api/sms/campaigns"] == (401, "bad or missing token")  # own auth: bearer
    assert answers["/smsx"][0] == 403 and "CSRF" in answers["/smsx"][1]  # the guards: no CSRF token
    assert answers["/api/v1/escalations"] == (401, '{"error": "login required"}')
    assert answers["/escalations"][0] == 302
