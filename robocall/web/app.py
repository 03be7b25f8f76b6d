"""The aiohttp server: the app factory and `run`.

`create_app(settings)` builds the one application of the process:

- what it owns is opened at start-up and closed at clean-up (`cleanup_ctx`): the database engine
  (migrated before the first request), shared by every route and the SMS sub-apps, and the pool of
  threads that runs their blocking work (robocall.web.threads);
- the flows are loaded once (robocall.flows.catalog); a broken flow is refused with the same
  `file:line: message` problems as `robocall flows check`, logged, and shown on /flows and
  /diagrams, while the valid flows are served.  Routes reach them through robocall.web.keys;
- `/health` and `/flows` (JSON), the CDC dashboard and its JSON API (robocall.web.dashboard);
- the SMS carrier callbacks (`/sms/`) and the SMS campaign API (`/api/sms/`), sub-apps of sms/web.py
  that check each request by their own scheme (signature, bearer token) instead of the dashboard's
  session guards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from aiohttp import web
from redis import Redis

from robocall.campaigns.jobs import follow_up_mover
from robocall.config import Settings, get_settings
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.flows.problems import Problem
from robocall.gc_tuning import freeze_startup_objects
from robocall.migrate import upgrade
from robocall.telephony.twilio.api import PREFIX as VOICE_PREFIX
from robocall.telephony.twilio.webhooks import voice_webhooks
from robocall.web.dashboard import setup_dashboard
from robocall.web.keys import ENGINE, FLOW_PROBLEMS, FLOWS, REDIS, SETTINGS, SMS_SET_STATUS, THREADS, VOCABULARY
from robocall.web.observability import setup_observability
from robocall.web.security import mount_own_auth, public
from robocall.web.threads import in_thread, thread_pool
from sms.campaigns import set_status as sms_set_status
from sms.web import SMS_API_PREFIX, SMS_CALLBACKS_PREFIX, sms_apps

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application()
    app[SETTINGS] = settings
    catalog = flow_catalog(settings)
    app[FLOWS] = catalog.flows
    app[VOCABULARY] = catalog.vocabulary
    # Pages show where a problem is within the flows folder, never the server's own paths.
    app[FLOW_PROBLEMS] = [Problem(shown_path(p.file, settings.flows_dir), p.line, p.message) for p in catalog.problems]
    app[SMS_SET_STATUS] = sms_set_status
    app.on_response_prepare.append(_plain_server_header)
    app.cleanup_ctx.append(_database_and_threads)
    app.router.add_get("/health", health)
    app.router.add_get("/flows", list_flows)
    setup_dashboard(app, settings)
    setup_observability(app)  # /ready, /metrics; its middleware, outermost, sees every request
    callbacks, api = sms_apps(engine=partial(app.__getitem__, ENGINE), run_blocking=partial(in_thread, app))
    mount_own_auth(app, SMS_CALLBACKS_PREFIX, callbacks, "HMAC-SHA256 of X-Timestamp and the body (replays refused), or X-Twilio-Signature")
    mount_own_auth(app, SMS_API_PREFIX, api, "Authorization: Bearer SMS_API_TOKEN")
    if settings.twilio_auth_token:  # phone calls and the hotline on Twilio (docs/twilio.md)
        mount_own_auth(app, VOICE_PREFIX, voice_webhooks(settings, after_outbound=follow_up_mover(settings),
                                                      engine=partial(app.__getitem__, ENGINE)),
                       "X-Twilio-Signature")
    return app


async def _database_and_threads(app: web.Application) -> AsyncIterator[None]:
    """The process's one database engine and its pool of threads, for the app's whole life."""
    app[ENGINE] = engine = make_engine(app[SETTINGS].database_url)
    app[REDIS] = redis = Redis.from_url(app[SETTINGS].redis_url)
    app[THREADS] = pool = thread_pool()
    try:
        await in_thread(app, upgrade, engine)
        yield
    finally:
        # Threads first (a request's last query may still run), then the connections they used.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        redis.close()
        engine.dispose()


def shown_path(path: str, base: Path) -> str:
    """`path` relative to the flows folder (``ivr_flows/f1.yaml`` -> ``f1.yaml``), else its name alone."""
    try:
        return str(Path(path).resolve().relative_to(Path(base).resolve()))
    except ValueError:
        return Path(path).name


async def _plain_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp names itself and its version; a scanner learns nothing from "robocall".
    response.headers["Server"] = "robocall"


@public
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "flows": sorted(request.app[FLOWS])})


@public  # flow names and problems only, no personal data
async def list_flows(request: web.Request) -> web.Response:
    flows = request.app[FLOWS]
    return web.json_response({
        "flows": [
            {"name": f.name, "title": f.spec.title, "file": shown_path(f.file, request.app[SETTINGS].flows_dir),
             "version": f.version,
             "direction": f.spec.direction, "languages": f.spec.languages, "nodes": len(f.spec.nodes)}
            for f in flows.values()
        ],
        "problems": [str(p) for p in request.app[FLOW_PROBLEMS]],
    })


def run(port: int, host: str = "127.0.0.1") -> None:
    app = create_app()
    freeze_startup_objects()
    web.run_app(app, host=host, port=port)
