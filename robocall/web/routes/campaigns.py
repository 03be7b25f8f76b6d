"""Campaign pages: progress, answer rate, calls and escalations per day as SVG charts.

Hook for SMS: `EXTRA_CAMPAIGN_SECTIONS` takes coroutine functions `(request) -> (title, html)`; the
campaign list shows each section under the call campaigns (routes/sms_campaigns.py appends one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from aiohttp import web
from markupsafe import Markup

from robocall.accounts import Role
from robocall.labels import day
from robocall.web.campaign_stats import all_campaigns, campaign_by_id
from robocall.web.charts import bar_chart
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import SETTINGS
from robocall.web.scope import scope_of
from robocall.web.security import requires
from robocall.web.templating import render
from robocall.web.threads import in_session

routes = web.RouteTableDef()
EXTRA_CAMPAIGN_SECTIONS: list[Callable[[web.Request], Awaitable[tuple[str, Markup]]]] = []


def _today(request: web.Request) -> dt.date:
    return dt.datetime.now(request.app[SETTINGS].tzinfo).date()


@routes.get("/campaigns")
@requires(Role.VIEWER)
async def campaigns_page(request: web.Request) -> web.Response:
    campaigns = await in_session(request, all_campaigns, _today(request), scope_of(request))
    sections = [await section(request) for section in EXTRA_CAMPAIGN_SECTIONS]
    return render(request, "campaigns.html", {"campaigns": campaigns, "sections": sections})


@routes.get("/campaigns/{id:\\d+}")
@requires(Role.VIEWER)
async def campaign_page(request: web.Request) -> web.Response:
    lang = pick_language(request)
    stats = await in_session(request, campaign_by_id, int(request.match_info["id"]), True, _today(request),
                             scope_of(request))
    if stats is None:
        raise web.HTTPNotFound(text="no such campaign")
    # Both charts have every day of the period (campaign_stats fills zeros): one x axis, bars aligned.
    labels = [day(d, lang, "day_month") for d, _, _ in stats.calls_per_day]
    calls_chart = bar_chart(labels, [
        (translate("attempts", lang), [a for _, a, _ in stats.calls_per_day], "#4c78a8"),
        (translate("answered", lang), [n for _, _, n in stats.calls_per_day], "#54a24b"),
    ], translate("calls_per_day", lang))
    esc_chart = bar_chart(labels, [(translate("escalations", lang), [n for _, n in stats.escalations_per_day],
                                        "#e45756")], translate("escalations_per_day", lang))
    return render(request, "campaign.html", {"c": stats, "calls_chart": calls_chart, "esc_chart": esc_chart})
