"""Flow pages: each flow's diagram and the validation problems found at start-up.

`/flows` (JSON) stays the machine-readable list; these pages are for people.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from robocall.accounts import Role
from robocall.flows.draw import DrawError, draw_flow
from robocall.web.dashboard import render
from robocall.web.keys import DIAGRAM_CACHE, SETTINGS
from robocall.web.routes.audio import prompt_audio
from robocall.web.security import requires

routes = web.RouteTableDef()


def _flows(request: web.Request):  # type: ignore[no-untyped-def]
    from robocall.web.app import FLOW_PROBLEMS, FLOWS
    return request.app[FLOWS], request.app[FLOW_PROBLEMS]


@routes.get("/diagrams")
@requires(Role.VIEWER)
async def flows_page(request: web.Request) -> web.Response:
    flows, problems = _flows(request)
    return render(request, "flows.html", {"flows": sorted(flows.values(), key=lambda f: f.name),
                                          "problems": problems})


@routes.get("/diagrams/{name}")
@requires(Role.VIEWER)
async def flow_page(request: web.Request) -> web.Response:
    flow, language = _flow_and_language(request)
    prompts = await asyncio.to_thread(prompt_audio, request.app[SETTINGS], flow, language)
    return render(request, "flow.html", {"flow": flow, "language": language, "prompts": prompts})


def _flow_and_language(request: web.Request):  # type: ignore[no-untyped-def]
    """The flow named in the path (404 if not loaded) and the language asked for (default: its first)."""
    flows, _ = _flows(request)
    flow = flows.get(request.match_info["name"])
    if flow is None:
        raise web.HTTPNotFound(text="no such flow")
    return flow, request.query.get("language") or flow.spec.languages[0]


def _draw(flow, language: str) -> bytes:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        return draw_flow(flow, Path(tmp) / "flow.svg", language).read_bytes()


@routes.get("/diagrams/{name}/diagram.svg")
@requires(Role.VIEWER)
async def flow_svg(request: web.Request) -> web.Response:
    flow, language = _flow_and_language(request)
    if language not in flow.spec.languages:
        raise web.HTTPNotFound(text="the flow has no such language")
    cache = request.app[DIAGRAM_CACHE]
    key = (flow.name, flow.version, language)
    if key not in cache:
        try:
            cache[key] = await asyncio.to_thread(_draw, flow, language)  # Graphviz takes a moment
        except DrawError as error:
            raise web.HTTPInternalServerError(text=str(error)) from None
    return web.Response(body=cache[key], content_type="image/svg+xml")
