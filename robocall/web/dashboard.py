"""Wires the CDC dashboard onto the aiohttp app: sessions, guards, templates, static files, routes."""

from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from robocall.config import Settings
from robocall.web.errors import error_pages
from robocall.web.i18n import language_middleware
from robocall.web.keys import DIAGRAM_CACHE, SSE_POLL_SECONDS
from robocall.web.params import bounded_input_middleware
from robocall.web.routes import ROUTE_TABLES
from robocall.web.security import (
    auth_middleware,
    csrf_middleware,
    dashboard_only,
    headers_middleware,
)
from robocall.web.templating import setup_templates

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
    """The pages and the JSON API on `app`, whose database (robocall.web.keys.ENGINE) the server opens."""
    app[SSE_POLL_SECONDS] = 2.0
    app[DIAGRAM_CACHE] = {}
    storage = EncryptedCookieStorage(
        session_key(settings.secret_key), cookie_name="robocall_session", httponly=True, samesite="Lax",
        max_age=SESSION_HOURS * 3600, secure=settings.public_base_url.startswith("https://"))
    # The session's middleware runs first: the guards read the session.
    # The error pages sit inside the session (they render the layout) and outside the guards.
    app.middlewares.extend([session_middleware(storage), headers_middleware, error_pages, auth_middleware,
                            csrf_middleware, language_middleware, bounded_input_middleware])
    setup_templates(app)  # adds the middleware of the templates' context
    # None of them touches the requests of the sub-apps that authenticate themselves.
    app.middlewares[:] = [dashboard_only(m) for m in app.middlewares]
    app.router.add_static("/static", HERE / "static", name="static")
    for table in ROUTE_TABLES:
        app.add_routes(table)
