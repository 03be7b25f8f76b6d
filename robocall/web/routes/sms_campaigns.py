"""SMS campaign pages: the list and one campaign's delivery figures per carrier.

Under /sms-campaigns, not /sms/: the /sms/ and /api/sms/ prefixes skip the session guards (carrier
callbacks and the SMS API authenticate themselves, see robocall/web/security.py), and these pages
must not.  The campaign list links here through `EXTRA_CAMPAIGN_SECTIONS`.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup, escape
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.web.dashboard import render
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import ENGINE
from robocall.web.routes.campaigns import EXTRA_CAMPAIGN_SECTIONS
from robocall.web.security import requires
from robocall.web.sms_stats import (
    STATES,
    count_sms_campaigns,
    list_sms_campaigns,
    sms_campaign_detail,
)

routes = web.RouteTableDef()


@routes.get("/sms-campaigns")
@requires(Role.VIEWER)
async def sms_campaigns_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        campaigns = list_sms_campaigns(db)
    return render(request, "sms_campaigns.html", {"campaigns": campaigns})


@routes.get("/sms-campaigns/{id:\\d+}")
@requires(Role.VIEWER)
async def sms_campaign_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        detail = sms_campaign_detail(db, int(request.match_info["id"]))
    if detail is None:
        raise web.HTTPNotFound(text="no such SMS campaign")
    return render(request, "sms_campaign.html", {"c": detail, "states": STATES})


def sms_section(request: web.Request) -> tuple[str, Markup]:
    """The SMS part of /campaigns: how many SMS campaigns there are, and the link to them."""
    lang = pick_language(request)
    with DbSession(request.app[ENGINE]) as db:
        count = count_sms_campaigns(db)
    text = translate("sms_campaign_count", lang, count=count)
    link = translate("sms_open_list", lang)
    html = Markup('<p id="sms-section">{} · <a href="/sms-campaigns">{}</a></p>').format(escape(text), escape(link))
    return translate("sms_campaigns", lang), html


if sms_section not in EXTRA_CAMPAIGN_SECTIONS:
    EXTRA_CAMPAIGN_SECTIONS.append(sms_section)
