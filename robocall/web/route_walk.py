"""Every GET route of the app, visited with a logged-in client, with the SQL each visit ran.

The routes are read from the app's router (sub-apps included), so a route added later is walked
without anyone listing it: a static path is visited as it is, a path with parameters with the values
given for its template (e.g. ``/escalations/{id}`` -> ``/escalations/7``), and a template with no
values is reported as left out, so a new route never goes unnoticed.  Used by
`bench/explain_dashboard.py` and its small version in the suite (tests/web/test_query_plans.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestClient

from robocall.query_plans import Statement, capture_statements

# Served without the database (files, the login form, the OpenAPI document, diagrams drawn from flows).
NO_DATABASE = ("/audio/", "/static", "/diagrams/{name}/diagram.svg")
STREAMS = ("/escalations/stream",)  # server-sent events: the first event is read, then the stream closed


@dataclass
class Visit:
    path: str
    status: int
    milliseconds: float
    statements: list[Statement] = field(default_factory=list)


def get_templates(app: web.Application) -> Iterator[str]:
    """The path template of every resource with a GET route, sub-apps' included (with their prefix)."""
    for resource in app.router.resources():
        sub_app = getattr(resource, "_app", None)
        if isinstance(sub_app, web.Application):  # a mounted sub-app (the SMS callbacks and API)
            yield from get_templates(sub_app)  # its resources carry the prefix already
            continue
        if any(route.method in ("GET", "*") for route in resource):
            yield str(resource.canonical)


def paths_to_visit(app: web.Application, values: Mapping[str, Sequence[str]],
                   extra: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(paths to visit, templates left out): `values` maps a template to the concrete paths standing for
    it (a static template may be given variants with a query string as well); `extra` are more paths."""
    paths: list[str] = []
    left_out: list[str] = []
    for template in dict.fromkeys(get_templates(app)):
        if template in values:
            paths.extend(values[template])
        elif any(template.startswith(p) or template == p for p in NO_DATABASE):
            continue
        elif "{" in template:
            left_out.append(template)
        else:
            paths.append(template)
    return list(dict.fromkeys([*paths, *extra])), left_out


async def visit(client: TestClient, path: str, headers: Mapping[str, str] | None = None) -> Visit:
    """One GET, with the statements it ran and its time (the whole body read)."""
    with capture_statements() as captured:
        started = time.perf_counter()
        async with client.get(path, headers=dict(headers or {}), allow_redirects=False) as response:
            if path.split("?")[0] in STREAMS:
                await response.content.readline()
            else:
                await response.read()
            elapsed = (time.perf_counter() - started) * 1000
    return Visit(path, response.status, elapsed, captured.statements)


def dashboard_values(ids: Mapping[str, int], today: str, district: str, commune: str) -> dict[str, list[str]]:
    """The concrete paths standing for each dashboard template, with the filters people use: `ids` as
    simulator/province_db.fill_province returns them, `today` the last follow-up day (YYYY-MM-DD)."""
    kinds = ("symptomatic", "non_reporting", "monitoring", "closed")
    case, hotline, contact = ids["escalation"], ids["hotline_escalation"], ids["contact"]
    place = f"district={quote(district)}&commune={quote(commune)}"
    period = f"from={today[:8]}01&to={today}"
    return {
        "/escalations": ["/escalations", f"/escalations?sort=newest&{place}", "/escalations?status=all&level=urgent",
                         f"/escalations?since={today}&until={today}", "/escalations?partial=1&assignee=can_bo"],
        "/escalations/{id}": [f"/escalations/{case}", f"/escalations/{hotline}"],
        "/contacts": ["/contacts?q=nguyen+van+h", "/contacts?q=0910000005"],
        "/contacts/{id}": [f"/contacts/{contact}"],
        "/home-visits": ["/home-visits", f"/home-visits?{place}"],
        "/lists/{kind}": [f"/lists/{k}" for k in kinds] + [f"/lists/monitoring?{place}"],
        "/lists/{kind}/export.csv": ["/lists/symptomatic/export.csv", f"/lists/non_reporting/export.csv?{place}"],
        "/campaigns/{id}": [f"/campaigns/{ids['campaign']}"],
        "/sms-campaigns/{id}": [f"/sms-campaigns/{ids['sms_campaign']}", f"/sms-campaigns/{ids['sms_single']}"],
        "/diagrams/{name}": ["/diagrams/f1_f2_followup"],
        "/reports": ["/reports", f"/reports?{period}"],
        "/reports/export.csv": [f"/reports/export.csv?{period}"],
        "/reports/export.xlsx": [f"/reports/export.xlsx?{period}"],
        "/audit": ["/audit", "/audit?actor=can_bo", "/audit?action=reveal_phone"],
        "/api/v1/escalations": ["/api/v1/escalations", f"/api/v1/escalations?{place}"],
        "/api/v1/escalations/{id}": [f"/api/v1/escalations/{case}"],
        "/api/v1/lists/{kind}": [f"/api/v1/lists/{k}" for k in kinds],
        "/api/v1/contacts": ["/api/v1/contacts?q=tran+thi"],
        "/api/v1/campaigns/{id}": [f"/api/v1/campaigns/{ids['campaign']}"],
        "/api/v1/report": [f"/api/v1/report?{period}"],
        "/api/v1/audit": ["/api/v1/audit?actor=can_bo"],
        "/api/sms/campaigns/{id}": [f"/api/sms/campaigns/{ids['sms_campaign']}"],
    }
