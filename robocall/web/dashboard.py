"""Wires the CDC dashboard onto the aiohttp app: database, sessions, templates, guards, routes."""

from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from robocall.accounts import Role
from robocall.config import Settings
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.web import formatting
from robocall.web.i18n import language_middleware, pick_language, translate
from robocall.web.keys import DIAGRAM_CACHE, ENGINE, SETTINGS, SSE_POLL_SECONDS
from robocall.web.security import (
    auth_middleware,
    can,
    csrf_middleware,
    csrf_token,
    current_user,
    headers_middleware,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_HOURS = 10  # a working day; then log in again


def session_key(secret: str) -> bytes:
    """32 key bytes from SECRET_KEY (any string); random when it is empty.  aiohttp-session base64s them for Fernet."""
    if not secret:
        log.warning("SECRET_KEY is not set: using a random key; sessions end when the server restarts")
        secret = secrets.token_hex(32)
    return hashlib.sha256(secret.encode()).digest()


def setup_dashboard(app: web.Application, settings: Settings) -> None:
    from robocall.web.routes import ROUTE_TABLES

    app[SETTINGS] = settings
    app[SSE_POLL_SECONDS] = 2.0
    app[DIAGRAM_CACHE] = {}
    engine = make_engine(settings.database_url)
    app[ENGINE] = engine
    app.on_startup.append(_migrate)
    app.on_cleanup.append(_dispose)
    storage = EncryptedCookieStorage(
        session_key(settings.secret_key), cookie_name="robocall_session", httponly=True, samesite="Lax",
        max_age=SESSION_HOURS * 3600, secure=settings.public_base_url.startswith("https://"))
    setup_session(app, storage)  # its middleware runs first: the guards below read the session
    app.middlewares.extend([headers_middleware, auth_middleware, csrf_middleware, language_middleware])
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               context_processors=[_page_context], autoescape=True)
    env.filters.update(formatting.FILTERS)
    app.router.add_static("/static", HERE / "static", name="static")
    for table in ROUTE_TABLES:
        app.add_routes(table)


async def _migrate(app: web.Application) -> None:
    upgrade(app[ENGINE])


async def _dispose(app: web.Application) -> None:
    app[ENGINE].dispose()


async def _page_context(request: web.Request) -> dict[str, Any]:
    lang = pick_language(request)
    settings = request.app[SETTINGS]

    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    return {"lang": lang, "t": t, "user": current_user(request), "csrf_token": await csrf_token(request),
            "can_act": can(request, Role.CDC_STAFF), "is_admin": can(request, Role.ADMIN),
            "tz": settings.tzinfo, "path": request.path, "query": request.query}


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)
