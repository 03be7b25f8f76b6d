"""Reading the query string the same way on the pages and in the JSON API: bad input is a 400 naming it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from aiohttp import web


def parse_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise web.HTTPBadRequest(text=f"400: not a date (YYYY-MM-DD): {text}") from None


def report_period(query: Mapping[str, str]) -> tuple[dt.date | None, dt.date | None]:
    """The report's `from` and `to` days (either may be open)."""
    start, end = parse_day(query.get("from")), parse_day(query.get("to"))
    if start and end and start > end:
        raise web.HTTPBadRequest(text="400: 'from' is after 'to'")
    return start, end
