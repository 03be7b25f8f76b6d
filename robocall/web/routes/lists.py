"""Line lists (symptomatic, non-reporting, under monitoring, closed) and the contact search."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.tabular import csv_text
from robocall.web.audit import audit
from robocall.web.escalation_queries import filter_options
from robocall.web.keys import SETTINGS
from robocall.web.line_lists import KINDS, ContactSearch, SearchError, default_as_of, line_list
from robocall.web.params import parse_day
from robocall.web.scope import Scope, scope_of
from robocall.web.security import requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()


async def _line_list_for(request: web.Request, whole: bool) -> tuple[str, dt.date, list[Any], int, Any]:
    """The list named in the path, filtered by the query: (kind, as_of, rows, total, filter options)."""
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise web.HTTPNotFound(text="no such list")
    q = request.query
    as_of = parse_day(q.get("as_of"))
    today = dt.datetime.now(request.app[SETTINGS].tzinfo).date()
    as_of, rows, total, options = await in_session(request, _read, kind, as_of, today, dict(q), whole,
                                                   scope_of(request))
    return kind, as_of, rows, total, options


def _read(db: DbSession, kind: str, as_of: dt.date | None, today: dt.date, q: dict[str, str],
          whole: bool, scope: Scope) -> tuple[dt.date, list[Any], int, Any]:
    as_of = as_of or default_as_of(db, today)
    rows, total = line_list(db, kind, as_of, district=q.get("district", ""), commune=q.get("commune", ""),
                            category=q.get("category", ""), whole=whole, scope=scope)
    return as_of, rows, total, None if whole else filter_options(db, scope)


@routes.get("/lists")
@requires(Role.VIEWER)
async def lists_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/lists/symptomatic")


@routes.get("/lists/{kind}")
@requires(Role.VIEWER)
async def list_page(request: web.Request) -> web.Response:
    kind, as_of, rows, total, options = await _line_list_for(request, whole=False)
    await audit(request, "view_line_list", "contact", "", {"list": kind, "rows": len(rows)})
    return render(request, "lists.html", {"kind": kind, "kinds": KINDS, "rows": rows, "total": total,
                                          "as_of": as_of, "options": options})


@routes.get("/lists/{kind}/export.csv")
@requires(Role.VIEWER)
async def list_csv(request: web.Request) -> web.Response:
    """The list as a spreadsheet for the commune teams; phones stay masked (call from the dashboard)."""
    kind, as_of, rows, _, _ = await _line_list_for(request, whole=True)
    columns = ["contact_id", "name", "phone_masked", "category", "district", "commune", "exposure_date",
               "monitoring_end", "last_call_day", "last_call_state", "open_cases"]
    body = csv_text(columns, ([r.to_json()[c] for c in columns] for r in rows))
    await audit(request, "export_line_list", "contact", "", {"list": kind, "rows": len(rows), "as_of": as_of.isoformat()})
    return web.Response(body=body.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}_{as_of.isoformat()}.csv"'})


@routes.get("/contacts")
@requires(Role.VIEWER)
async def search_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    rows, total, error = [], 0, ""
    if q:
        try:
            search = ContactSearch.parse(q)
        except SearchError as exc:
            error = str(exc)
        else:
            rows, total = await in_session(request, line_list, "search", dt.date.today(), search=search,
                                           scope=scope_of(request))
            await audit(request, "search_contacts", "contact", "", {**search.audit_detail(), "rows": len(rows)})
    return render(request, "search.html", {"q": q, "rows": rows, "total": total, "error": error},
                  status=400 if error else 200)
