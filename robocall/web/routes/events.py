"""Server-sent events for the live queue: tells open pages when escalations or timelines change.

The event carries no personal data, only ids; the page then reloads its table through the normal
(audited, role-checked) queue route.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp_sse import sse_response
from sqlmodel import Session as DbSession

from robocall.accounts import Role
from robocall.web.escalation_queries import latest_change
from robocall.web.keys import ENGINE, SSE_POLL_SECONDS
from robocall.web.security import requires

routes = web.RouteTableDef()


def _latest(request: web.Request) -> tuple[int, int]:
    with DbSession(request.app[ENGINE]) as db:
        return latest_change(db)


@routes.get("/escalations/stream")
@requires(Role.VIEWER)
async def stream(request: web.Request) -> web.StreamResponse:
    # Workers write escalations from other processes, so we watch the database, not an in-process bus.
    poll = request.app[SSE_POLL_SECONDS]
    async with sse_response(request) as response:
        seen = await asyncio.to_thread(_latest, request)
        await response.send(json.dumps({"escalation": seen[0], "event": seen[1]}), event="hello")
        while response.is_connected():
            await asyncio.sleep(poll)
            latest = await asyncio.to_thread(_latest, request)
            if latest != seen:
                kind = "escalation" if latest[0] != seen[0] else "timeline"
                await response.send(json.dumps({"escalation": latest[0], "event": latest[1],
                                                "new_since": seen[0]}), event=kind)
                seen = latest
    return response
