"""The aiohttp application.

The CDC dashboard (pages, JSON API) is wired in by robocall.web.dashboard.

At start-up every flow is loaded once; a broken flow is refused with the same
`file:line: message` problems as `robocall flows check`, logged, and shown on
/flows, while the valid flows are served.
"""

from __future__ import annotations

import logging

from aiohttp import web

from robocall.campaigns.jobs import follow_up_mover
from robocall.config import Settings, get_settings
from robocall.flows.catalog import flow_catalog
from robocall.flows.loader import Flow
from robocall.flows.problems import Problem
from robocall.gc_tuning import freeze_startup_objects
from robocall.telephony.twilio.api import PREFIX as VOICE_PREFIX
from robocall.telephony.twilio.webhooks import voice_webhooks
from robocall.web.dashboard import setup_dashboard
from robocall.web.security import public
from sms.web import add_sms_routes

log = logging.getLogger(__name__)
FLOWS = web.AppKey("flows", dict[str, Flow])
FLOW_PROBLEMS = web.AppKey("flow_problems", list[Problem])


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application()
    catalog = flow_catalog(settings)
    app[FLOWS] = catalog.flows
    app[FLOW_PROBLEMS] = catalog.problems
    app.router.add_get("/health", health)
    app.router.add_get("/flows", list_flows)
    add_sms_routes(app)
    if settings.twilio_auth_token:  # phone calls and the hotline on Twilio (docs/twilio.md)
        app.add_subapp(VOICE_PREFIX, voice_webhooks(settings, after_outbound=follow_up_mover(settings)))
    setup_dashboard(app, settings)  # the CDC dashboard and its JSON API (robocall/web/routes/)
    return app


@public
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "flows": sorted(request.app[FLOWS])})


@public  # flow names and problems only, no personal data
async def list_flows(request: web.Request) -> web.Response:
    flows = request.app[FLOWS]
    return web.json_response({
        "flows": [
            {"name": f.name, "title": f.spec.title, "file": f.file, "version": f.version,
             "direction": f.spec.direction, "languages": f.spec.languages, "nodes": len(f.spec.nodes)}
            for f in flows.values()
        ],
        "problems": [str(p) for p in request.app[FLOW_PROBLEMS]],
    })


def run(port: int, host: str = "127.0.0.1") -> None:
    app = create_app()
    freeze_startup_objects()
    web.run_app(app, host=host, port=port)
