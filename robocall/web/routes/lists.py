"""Line lists (symptomatic, non-reporting, under monitoring, closed) and the contact search."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace
from typing import Any

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.tabular import safe_cell
from robocall.web.audit import audit
from robocall.web.escalation_queries import filter_options
from robocall.web.line_lists import KINDS, SEARCH_ORDER, ContactSearch, ListRow, SearchError, line_list
from robocall.web.list_query import ListAsked, read_list_page
from robocall.web.paging import Page, pager_urls, read_cursor
from robocall.web.scope import scope_of
from robocall.web.security import requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()


def _page_with_options(db: DbSession, asked: ListAsked) -> tuple[dt.date, Page[ListRow], Any]:
    as_of, page = read_list_page(db, asked)
    return as_of, page, filter_options(db, asked.scope)


@routes.get("/lists")
@requires(Role.VIEWER)
async def lists_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/lists/symptomatic")


@routes.get("/lists/{kind}")
@requires(Role.VIEWER)
async def list_page(request: web.Request) -> web.Response:
    asked = ListAsked.read(request)
    as_of, page, options = await in_session(request, _page_with_options, asked)
    await audit(request, "view_line_list", "contact", "", {"list": asked.kind, "rows": len(page.rows),
                                                           "page": page.number})
    return render(request, "lists.html", {"kind": asked.kind, "kinds": KINDS, "rows": page.rows, "page": page,
                                          "total": page.total, "as_of": as_of, "options": options,
                                          **pager_urls(request, page, {"as_of": as_of.isoformat()})})


EXPORT_COLUMNS = ["contact_id", "name", "phone_masked", "category", "district", "commune", "exposure_date",
                  "monitoring_end", "last_call_day", "last_call_state", "open_cases"]
EXPORT_CHUNK = 1000  # rows read per query while an export streams


def csv_chunk(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


@routes.get("/lists/{kind}/export.csv")
@requires(Role.VIEWER)
async def list_csv(request: web.Request) -> web.StreamResponse:
    """The whole filtered list (not one page) as a spreadsheet for the commune teams, streamed a chunk of rows
    at a time; phones stay masked (call from the dashboard)."""
    asked = replace(ListAsked.read(request), cursor=None)  # the whole list, whatever page it was asked from
    as_of, page = await in_session(request, read_list_page, asked, EXPORT_CHUNK)
    # Audited before the first byte leaves: an export cut short has still shown what it sent.
    await audit(request, "export_line_list", "contact", "", {"list": asked.kind, "rows": page.total,
                                                             "as_of": as_of.isoformat()})
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{asked.kind}_{as_of.isoformat()}.csv"'})
    await response.prepare(request)
    await response.write(("\ufeff" + ",".join(EXPORT_COLUMNS) + "\r\n").encode("utf-8"))
    pinned = replace(asked, as_of=as_of)  # every chunk reads the same day's list
    while True:
        await response.write(csv_chunk([[r.to_json()[c] for c in EXPORT_COLUMNS] for r in page.rows]))
        if page.next is None:
            break
        _, page = await in_session(request, read_list_page, pinned, EXPORT_CHUNK, False, page.next)
    await response.write_eof()
    return response


@routes.get("/contacts")
@requires(Role.VIEWER)
async def search_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    cursor = read_cursor(request.query.get("cursor"), SEARCH_ORDER)
    page, error = None, ""
    if q:
        try:
            search = ContactSearch.parse(q)
        except SearchError as exc:
            error = str(exc)
        else:
            page = await in_session(request, line_list, "search", dt.date.today(), search=search,
                                    scope=scope_of(request), cursor=cursor)
            await audit(request, "search_contacts", "contact", "", {**search.audit_detail(), "rows": len(page.rows),
                                                                    "page": page.number})
    return render(request, "search.html", {"q": q, "rows": page.rows if page else [], "page": page,
                                           "total": page.total if page else 0, "error": error,
                                           **pager_urls(request, page)},
                  status=400 if error else 200)
