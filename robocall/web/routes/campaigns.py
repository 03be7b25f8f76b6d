"""Campaign pages: progress, answer rate, calls and escalations per day as SVG charts.

Hook for SMS: `EXTRA_CAMPAIGN_SECTIONS` takes functions `(request) -> (title, html)`; the campaign
list shows each section under the call campaigns (sms/ appends one when its pages exist).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from markupsafe import Markup
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.models import CallCampaign
from robocall.web.campaign_stats import all_campaigns, campaign_stats
from robocall.web.charts import bar_chart
from robocall.web.dashboard import render
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import ENGINE
from robocall.web.security import requires

routes = web.RouteTableDef()
EXTRA_CAMPAIGN_SECTIONS: list[Callable[[web.Request], tuple[str, Markup]]] = []


@routes.get("/campaigns")
@requires(Role.VIEWER)
async def campaigns_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        campaigns = all_campaigns(db)
    sections = [section(request) for section in EXTRA_CAMPAIGN_SECTIONS]
    return render(request, "campaigns.html", {"campaigns": campaigns, "sections": sections})


@routes.get("/campaigns/{id:\\d+}")
@requires(Role.VIEWER)
async def campaign_page(request: web.Request) -> web.Response:
    lang = pick_language(request)
    with DbSession(request.app[ENGINE]) as db:
        campaign = db.get(CallCampaign, int(request.match_info["id"]))
        if campaign is None:
            raise web.HTTPNotFound(text="no such campaign")
        stats = campaign_stats(db, campaign, per_day=True)
    labels = [d.strftime("%d/%m") for d, _, _ in stats.calls_per_day]
    calls_chart = bar_chart(labels, [
        (translate("attempts", lang), [a for _, a, _ in stats.calls_per_day], "#4c78a8"),
        (translate("answered", lang), [n for _, _, n in stats.calls_per_day], "#54a24b"),
    ], translate("calls_per_day", lang))
    esc_labels = [d.strftime("%d/%m") for d, _ in stats.escalations_per_day]
    esc_chart = bar_chart(esc_labels, [(translate("escalations", lang), [n for _, n in stats.escalations_per_day],
                                        "#e45756")], translate("escalations_per_day", lang))
    return render(request, "campaign.html", {"c": stats, "calls_chart": calls_chart, "esc_chart": esc_chart})
