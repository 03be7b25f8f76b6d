"""The aiohttp application.

At start-up every flow is loaded once; a broken flow is refused with the same
`file:line: message` problems as `robocall flows check`, logged, and shown on
/flows, while the valid flows are served.
"""

from __future__ import annotations

import logging

from aiohttp import web

from robocall.config import Settings, get_settings
from robocall.flows.loader import Flow, load_flows
from robocall.flows.problems import Problem

log = logging.getLogger(__name__)
FLOWS = web.AppKey("flows", dict[str, Flow])
FLOW_PROBLEMS = web.AppKey("flow_problems", list[Problem])


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application()
    flows, problems = load_flows([settings.flows_dir], settings.audio_dir)
    for problem in problems:
        log.error("flow refused: %s", problem)
    app[FLOWS] = flows
    app[FLOW_PROBLEMS] = problems
    app.router.add_get("/health", health)
    app.router.add_get("/flows", list_flows)
    return app


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "flows": sorted(request.app[FLOWS])})


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
    web.run_app(create_app(), host=host, port=port)
