"""SMS campaign pages: the list and one campaign's delivery figures per carrier.

Under /sms-campaigns, not /sms/: /sms/ and /api/sms/ belong to the SMS sub-apps (carrier callbacks
and the SMS API, which authenticate themselves: sms/web.py).  The campaign list links here through
`EXTRA_CAMPAIGN_SECTIONS`.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup, escape

from robocall.accounts import Role
from robocall.sms_models import CampaignStatus
from robocall.web.audit import audit
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import ENGINE, SMS_SET_STATUS
from robocall.web.routes.campaigns import EXTRA_CAMPAIGN_SECTIONS
from robocall.web.security import requires
from robocall.web.sms_stats import (
    STATES,
    count_sms_campaigns,
    list_sms_campaigns,
    sms_campaign_detail,
)
from robocall.web.templating import render
from robocall.web.threads import in_session, in_thread

routes = web.RouteTableDef()


@routes.get("/sms-campaigns")
@requires(Role.VIEWER)
async def sms_campaigns_page(request: web.Request) -> web.Response:
    campaigns = await in_session(request, list_sms_campaigns)
    return render(request, "sms_campaigns.html", {"campaigns": campaigns})


@routes.get("/sms-campaigns/{id:\\d+}")
@requires(Role.VIEWER)
async def sms_campaign_page(request: web.Request) -> web.Response:
    detail = await in_session(request, sms_campaign_detail, int(request.match_info["id"]))
    if detail is None:
        raise web.HTTPNotFound(text="no such SMS campaign")
    return render(request, "sms_campaign.html", {"c": detail, "states": STATES})


# The same control as `robocall sms pause|resume|cancel` (sms.campaigns.set_status, given to the app as
# SMS_SET_STATUS: same checks).  A
# resumed campaign is marked running; the `robocall sms run` process sends it, as after `--detach`.
CONTROLS = {"pause": CampaignStatus.PAUSED, "resume": CampaignStatus.RUNNING, "cancel": CampaignStatus.CANCELLED}


@routes.post("/sms-campaigns/{id:\\d+}/{control:pause|resume|cancel}")
@requires(Role.CDC_STAFF)
async def sms_campaign_control(request: web.Request) -> web.Response:
    campaign_id, control = int(request.match_info["id"]), request.match_info["control"]
    try:
        campaign = await in_thread(request, request.app[SMS_SET_STATUS], request.app[ENGINE], campaign_id,
                                   CONTROLS[control])
    except ValueError as error:  # sms.campaigns.CampaignError: not in a state that allows it
        await audit(request, f"sms_campaign_{control}_refused", "sms_campaign", campaign_id, {"error": str(error)})
        raise web.HTTPBadRequest(text=f"400: {error}") from None
    await audit(request, f"sms_campaign_{control}", "sms_campaign", campaign_id, {"status": campaign.status})
    raise web.HTTPSeeOther(f"/sms-campaigns/{campaign_id}")


async def sms_section(request: web.Request) -> tuple[str, Markup]:
    """The SMS part of /campaigns: how many SMS campaigns there are, and the link to them."""
    lang = pick_language(request)
    count = await in_session(request, count_sms_campaigns)
    text = translate("sms_campaign_count", lang, count=count)
    link = translate("sms_open_list", lang)
    html = Markup('<p id="sms-section">{} · <a href="/sms-campaigns">{}</a></p>').format(escape(text), escape(link))
    return translate("sms_campaigns", lang), html


if sms_section not in EXTRA_CAMPAIGN_SECTIONS:
    EXTRA_CAMPAIGN_SECTIONS.append(sms_section)
