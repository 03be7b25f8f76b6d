"""Flow pages: each flow's diagram and the validation problems found at start-up.

`/flows` (JSON) stays the machine-readable list; these pages are for people.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp import web

from robocall.accounts import Role
from robocall.flows.draw import DrawError, draw_flow
from robocall.flows.loader import Flow
from robocall.web.audio_prompts import prompt_audio
from robocall.web.keys import DIAGRAM_CACHE, FLOW_PROBLEMS, FLOWS, SETTINGS
from robocall.web.security import requires
from robocall.web.templating import render
from robocall.web.threads import in_thread

routes = web.RouteTableDef()


@routes.get("/diagrams")
@requires(Role.VIEWER)
async def flows_page(request: web.Request) -> web.Response:
    flows = request.app[FLOWS]
    return render(request, "flows.html", {"flows": sorted(flows.values(), key=lambda f: f.name),
                                          "problems": request.app[FLOW_PROBLEMS]})


@routes.get("/diagrams/{name}")
@requires(Role.VIEWER)
async def flow_page(request: web.Request) -> web.Response:
    flow, language = _flow_and_language(request)
    prompts = await in_thread(request, prompt_audio, request.app[SETTINGS], flow, language)
    return render(request, "flow.html", {"flow": flow, "language": language, "prompts": prompts})


def _flow_and_language(request: web.Request) -> tuple[Flow, str]:
    """The flow named in the path (404 if not loaded) and the language asked for (default: its first)."""
    flow = request.app[FLOWS].get(request.match_info["name"])
    if flow is None:
        raise web.HTTPNotFound(text="no such flow")
    return flow, request.query.get("language") or flow.spec.languages[0]


def _draw(flow: Flow, language: str) -> bytes:
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
            cache[key] = await in_thread(request, _draw, flow, language)  # Graphviz takes a moment
        except DrawError as error:
            raise web.HTTPInternalServerError(text=str(error)) from None
    return web.Response(body=cache[key], content_type="image/svg+xml")
