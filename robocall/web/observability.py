"""What the server adds for operators: `/ready`, `/metrics`, a request id on every request's logs,
and the time each webhook took (docs/deploy.md, "Observability").

`setup_observability(app)` puts its middleware first (the outermost), after the dashboard has wrapped
its own in `dashboard_only`: it runs for every request, the SMS and Twilio sub-apps' included.
"""

from __future__ import annotations

import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from robocall.logging_setup import log_context
from robocall.process_metrics import WEBHOOK_SECONDS
from robocall.web.metrics import add_metrics_route
from robocall.web.readiness import ready

REQUEST_ID = "X-Request-ID"
# A proxy's id is kept when it is a plain token; anything else is replaced (it goes into every log line).
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Routes whose latency is a webhook's: telephony providers and SMS carriers wait on these.
WEBHOOK_PREFIXES = ("/twilio/", "/sms/")


_ID = web.RequestKey("request_id", str)


def setup_observability(app: web.Application) -> None:
    app.middlewares.insert(0, request_context)
    app.on_response_prepare.append(_echo_request_id)
    app.router.add_get("/ready", ready)
    add_metrics_route(app)


def _route_template(request: web.Request) -> str | None:
    """`/twilio/voice/{attempt}/gather/{turn}`: the route, never the ids in the path."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else None


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    sent = request.headers.get(REQUEST_ID, "")
    request_id = sent if _GOOD_ID.match(sent) else uuid.uuid4().hex
    attempt = request.match_info.get("attempt", "")
    template = _route_template(request)
    webhook = template is not None and template.startswith(WEBHOOK_PREFIXES)
    request[_ID] = request_id
    started = time.perf_counter()
    # Reset when the request ends: one connection's requests run one after another in one task.
    with log_context(request_id=request_id, attempt_id=attempt if attempt.isdigit() else None):
        try:
            return await handler(request)
        finally:
            if webhook:
                WEBHOOK_SECONDS.labels(template).observe(time.perf_counter() - started)


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streams and errors included, says which request id its log lines carry."""
    if _ID in request:
        response.headers[REQUEST_ID] = request[_ID]
