"""Who may do what: sessions, roles on every route (refused by default), CSRF on every POST.

A handler declares its least role with `@requires(Role.X)` or `@public`; a route with neither is
refused, so a forgotten check fails closed.  There is no maintained CSRF library for aiohttp, so
the check is here: a random token per session, sent back in each form (`csrf_token`) or, from
JavaScript, in the `X-CSRF-Token` header, compared in constant time.

Sub-apps that authenticate each request by their own scheme (the SMS carrier callbacks and the SMS
campaign API) are mounted with `mount_own_auth`.  aiohttp runs a parent app's middlewares for its
sub-apps' requests too, so `dashboard_only` wraps each of the dashboard's middlewares: a request
the router sends into such a sub-app passes them untouched.  The router decides, not the URL; any
other route, a sub-app's included, still needs `@requires` or `@public`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from yarl import URL

from robocall.accounts import Role, User, has_role
from robocall.web.keys import ENGINE
from robocall.web.threads import in_thread

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

REQUIRED_ROLE = "_robocall_required_role"
PUBLIC = "public"
USER_KEY = web.RequestKey("user", dict)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# On a sub-app that authenticates each request itself: how (for people reading the app, and tests).
OWN_AUTH = web.AppKey("own_auth", str)


def mount_own_auth(app: web.Application, prefix: str, subapp: web.Application, scheme: str) -> None:
    """Mount `subapp` under `prefix`, outside the dashboard's session, role and CSRF guards: it checks
    every request by `scheme` (a signature, a bearer token) and no cookie is involved."""
    subapp[OWN_AUTH] = scheme
    app.add_subapp(prefix, subapp)


def has_own_auth(request: web.Request) -> bool:
    """The router sent the request into a sub-app mounted with `mount_own_auth`."""
    apps = request.match_info.apps
    owner = apps[-1] if apps else request.app
    return owner is not request.app and OWN_AUTH in owner


def dashboard_only(middleware: Middleware) -> Middleware:
    """`middleware`, stepping aside for the requests of sub-apps with their own authentication."""
    @web.middleware
    async def wrapped(request: web.Request, handler: Handler) -> web.StreamResponse:
        if has_own_auth(request):
            return await handler(request)
        return await middleware(request, handler)
    return wrapped


def requires(role: Role) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        setattr(handler, REQUIRED_ROLE, role)
        return handler
    return mark


def public(handler: Handler) -> Handler:
    setattr(handler, REQUIRED_ROLE, PUBLIC)
    return handler


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _from_script(request: web.Request) -> bool:
    """Asked by the page's script (an event stream, a fetch), not by a person navigating."""
    return ("text/event-stream" in request.headers.get("Accept", "")
            or request.headers.get("X-Requested-With") == "fetch")


def _required(request: web.Request) -> Any:
    if request.match_info.http_exception is not None:
        return PUBLIC  # let aiohttp answer 404/405 itself
    route = request.match_info.route
    if route.resource is not None and route.resource.canonical.startswith("/static"):
        return PUBLIC
    return getattr(request.match_info.handler, REQUIRED_ROLE, None)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = await get_session(request)
    user = session.get("user")
    if user:
        # The cookie says who logged in; the database says whether they still may, and as what
        # (a disabled account or a changed role takes effect on the next request).
        user = await in_thread(request, _current_account, request.app[ENGINE], user)
        if user is None:
            session.invalidate()
        else:
            session["user"] = user
            request[USER_KEY] = user
    needed = _required(request)
    if needed == PUBLIC:
        return await handler(request)
    if needed is None:
        raise web.HTTPForbidden(text="route without a declared role")  # fails closed
    if not user:
        if _wants_json(request):
            raise web.HTTPUnauthorized(text='{"error": "login required"}', content_type="application/json")
        if _from_script(request):
            # The live queue's stream and its table refresh: a 401 the page turns into a visit to /login,
            # rather than the login page poured into the queue.
            raise web.HTTPUnauthorized(text="401: login required")
        raise web.HTTPFound(URL("/login").with_query(next=request.path_qs) if request.method == "GET" else "/login")
    if not has_role(user["role"], needed):
        if _wants_json(request):
            raise web.HTTPForbidden(text='{"error": "forbidden"}', content_type="application/json")
        raise web.HTTPForbidden(text="403: your role may not do this")
    return await handler(request)


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in UNSAFE_METHODS:
        session = await get_session(request)
        expected = session.get("csrf") or ""
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            sent = str((await request.post()).get("csrf_token", ""))
        if not expected or not hmac.compare_digest(str(expected), sent):
            raise web.HTTPForbidden(text="403: missing or wrong CSRF token; reload the page and try again")
    return await handler(request)


def _current_account(engine: Engine, user: dict[str, Any]) -> dict[str, Any] | None:
    """The session's user as the database has it now, or None when the session has ended: the account is
    gone or disabled, or its session version moved on (log-out, new password)."""
    with DbSession(engine) as db:
        account = db.get(User, user.get("id"))
        if account is None or not account.active or user.get("sv") != account.session_version:
            return None
        return {"id": account.id, "username": account.username, "role": account.role, "districts": account.districts,
                "sv": account.session_version}


async def session_still_open(request: web.Request) -> bool:
    """For a long response (the live queue's stream): is the request's session still valid now?"""
    user = current_user(request)
    return bool(user) and await in_thread(request, _current_account, request.app[ENGINE], user) is not None


def current_user(request: web.Request) -> dict[str, Any] | None:
    return request.get(USER_KEY)


def current_username(request: web.Request) -> str:
    user = current_user(request)
    return str(user["username"]) if user else ""


def can(request: web.Request, role: Role) -> bool:
    user = current_user(request)
    return bool(user) and has_role(user["role"], role)  # type: ignore[index]


# Everything the pages use is served from here: no inline scripts, no CDN, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:  # redirects and refusals get the headers too
        error.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:  # an event stream has already sent its headers
        response.headers.update(SECURITY_HEADERS)
        if request.get(USER_KEY):
            response.headers.setdefault("Cache-Control", "no-store")  # personal data stays out of caches
    return response
