"""Reading the query string and the path the same way on the pages and in the JSON API: bad input is a
400 naming it (JSON `{"error", "field"}` under /api/), never a 500."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from robocall.inputs import MAX_ID, BadInput

# The days a report or a list may be asked about: the service's lifetime, with room; outside them a
# date is a typo (and 0001-01-01 or 9999-12-31 would overflow the day arithmetic).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
MAX_PAGE = 100_000
QUERY_VALUE_MAX = 1000  # a search, a filter, a deep link in next=: none is longer


def bad_request(request: web.Request, error: BadInput) -> web.HTTPBadRequest:
    if request.path.startswith("/api/"):
        return web.HTTPBadRequest(text=json.dumps(error.to_json(), ensure_ascii=False), content_type="application/json")
    return web.HTTPBadRequest(text=f"400: {error}")


def day_of(text: str | None, field: str) -> dt.date | None:
    """The day `text` names (None when empty); ValueError naming `field` when it is not a date or lies
    outside FIRST_DAY..LAST_DAY."""
    try:
        day = dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise ValueError(f"{field}: không phải ngày (YYYY-MM-DD) / not a date (YYYY-MM-DD): {text}") from None
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{field}: ngày ngoài khoảng / date out of range "
                         f"{FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}: {text}")
    return day


def parse_day(text: str | None, field: str = "as_of") -> dt.date | None:
    try:
        return day_of(text, field)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"400: {error}") from None


def report_period(query: Mapping[str, str]) -> tuple[dt.date | None, dt.date | None]:
    """The report's `from` and `to` days (either may be open)."""
    start, end = parse_day(query.get("from"), "from"), parse_day(query.get("to"), "to")
    if start and end and start > end:
        raise web.HTTPBadRequest(text="400: from: 'from' sau 'to' / 'from' is after 'to'")
    return start, end


def _check(request: web.Request) -> None:
    for value in request.match_info.values():
        if value.isdigit() and int(value) > MAX_ID:  # `{id:\d+}`: a number no row can have
            raise web.HTTPNotFound(text="404: không có / not found")
    for name, value in request.query.items():
        if len(value) > QUERY_VALUE_MAX:
            raise bad_request(request, BadInput(name, f"quá dài (tối đa {QUERY_VALUE_MAX}) / too long (at most {QUERY_VALUE_MAX})"))
    page = request.query.get("page")
    if page is not None and not (page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        raise bad_request(request, BadInput("page", f"cần số trang 1..{MAX_PAGE} / must be a page number 1..{MAX_PAGE}"))


@web.middleware
async def bounded_input_middleware(request: web.Request,
                                   handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every route's numeric path parts and `page=`, checked in one place before any handler reads them;
    under /api/ a 400 is JSON naming the field, whoever raised it."""
    try:
        _check(request)
        return await handler(request)
    except web.HTTPBadRequest as error:
        if not request.path.startswith("/api/") or error.content_type == "application/json":
            raise
        text = (error.text or "").removeprefix("400: ")
        field, _, message = text.partition(": ")
        raise bad_request(request, BadInput(field if message else "body", message or text)) from None
