"""Server-sent events for the live queue: tells open pages when escalations or timelines change.

The event carries no personal data, only ids; the page then reloads its table through the normal
(audited, role-checked) queue route.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp_sse import sse_response

from robocall.accounts import Role
from robocall.web.escalation_queries import latest_change
from robocall.web.keys import SSE_POLL_SECONDS
from robocall.web.scope import scope_of
from robocall.web.security import requires, session_still_open
from robocall.web.threads import in_session

routes = web.RouteTableDef()


@routes.get("/escalations/stream")
@requires(Role.VIEWER)
async def stream(request: web.Request) -> web.StreamResponse:
    # Workers write escalations from other processes, so we watch the database, not an in-process bus.
    # The session is checked again at every poll: a log-out elsewhere ends the stream with a "logout" event,
    # and the page goes to /login (the reconnection then gets a 401, never the login page as events).
    poll = request.app[SSE_POLL_SECONDS]
    scope = scope_of(request)
    try:
        async with sse_response(request) as response:
            seen = await in_session(request, latest_change, scope)
            await response.send(json.dumps({"escalation": seen[0], "event": seen[1]}), event="hello")
            while response.is_connected():
                await asyncio.sleep(poll)
                if not await session_still_open(request):
                    await response.send("{}", event="logout")
                    break
                latest = await in_session(request, latest_change, scope)
                if latest != seen:
                    kind = "escalation" if latest[0] != seen[0] else "timeline"
                    await response.send(json.dumps({"escalation": latest[0], "event": latest[1],
                                                    "new_since": seen[0]}), event=kind)
                    seen = latest
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError included
        pass  # the browser left the page: nothing went wrong
    return response
