"""The provincial report for a request's period: shared by the report pages and the JSON API."""

from __future__ import annotations

from aiohttp import web

from robocall.reports import ProvincialReport, provincial_report
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.params import report_period
from robocall.web.scope import scope_of
from robocall.web.threads import in_thread


async def report_for(request: web.Request) -> ProvincialReport:
    """The report over the query's `from`-`to`, limited to the user's districts (a district officer sees
    their districts' figures only, the provincial CDC all); it counts over whole tables, so in a thread."""
    start, end = report_period(request.query)
    return await in_thread(request, provincial_report, request.app[ENGINE], start, end,
                           request.app[SETTINGS].timezone, scope_of(request).districts)
