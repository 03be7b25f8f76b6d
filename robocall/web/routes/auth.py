"""Log in, log out.  A new session on each login, so a session id planted before login is useless.

Guessing is slowed twice: per user name (robocall.accounts' lockout, lifted by an admin on /users) and
per client address (robocall.web.login_throttle, password spraying); both answer 429 with Retry-After.
Logging out ends every session of the account (robocall.accounts.end_sessions).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.accounts import PASSWORD_MAX_LENGTH, Role, authenticate, end_sessions
from robocall.labels import moment
from robocall.models import utcnow
from robocall.web.audit import audit
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import ENGINE, REDIS, SETTINGS
from robocall.web.login_throttle import count_failure, refused_for
from robocall.web.security import current_user, public, requires
from robocall.web.templating import render
from robocall.web.threads import in_thread

routes = web.RouteTableDef()
USERNAME_MAX_LENGTH = 100
# A path on this site, as the browser will read it once decoded: one leading slash (not two, not a
# backslash, which browsers read as a slash) and no control characters (yarl strips a tab or a newline,
# so "/%09/evil.example" would become "//evil.example").
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x1f\x7f\\]*")


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would help phishing.
    return target if _LOCAL_PATH.fullmatch(target) and _LOCAL_PATH.fullmatch(unquote(target)) else "/escalations"


@routes.get("/")
@public
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/escalations" if current_user(request) else "/login")


@routes.get("/login")
@public
async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": _safe_next(request.query.get("next", "")), "error": ""})


@routes.post("/login")
@public
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    settings = request.app[SETTINGS]
    address = request.remote or ""
    lang = pick_language(request)
    page = {"next": _safe_next(str(form.get("next", "")))}
    wait = await in_thread(request, refused_for, request.app[REDIS], address, settings.login_address_failures)
    if wait:
        await audit(request, "login_throttled", "user", "", {"username": username[:USERNAME_MAX_LENGTH]},
                    actor=username[:USERNAME_MAX_LENGTH] or "?")
        return _refused(request, page, translate("login_throttled", lang), wait)
    if len(username) > USERNAME_MAX_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
        user, locked = None, None  # no account has such a name or password: not worth a hash
    else:
        user, locked = await in_thread(request, _authenticate, request.app[ENGINE], username, password,
                                       settings.login_max_failures, settings.login_lockout_minutes, address)
    if user:
        session = await new_session(request)
        session["user"] = user
        await audit(request, "login", "user", user["id"], actor=user["username"])
        raise web.HTTPFound(page["next"])
    shown = username[:USERNAME_MAX_LENGTH]
    await audit(request, "login_failed", "user", "", {"username": shown, "locked": bool(locked)}, actor=shown or "?")
    if not locked:
        await in_thread(request, count_failure, request.app[REDIS], address, settings.login_lockout_minutes * 60)
        return render(request, "login.html", {**page, "error": translate("login_failed", lang)}, status=401)
    local = moment(locked, lang, settings.tzinfo, "time")
    return _refused(request, page, f"{translate('login_locked', lang)} {local}.",
                    math.ceil((locked - utcnow()).total_seconds()))


def _refused(request: web.Request, page: dict[str, Any], error: str, seconds: int) -> web.Response:
    response = render(request, "login.html", {**page, "error": error}, status=429)
    response.headers["Retry-After"] = str(max(1, seconds))
    return response


def _authenticate(engine: Engine, username: str, password: str, max_failures: int, lockout_minutes: int,
                  remote: str) -> tuple[dict[str, Any] | None, dt.datetime | None]:
    """(the session's user, None) or (None, locked until); hashing the password takes argon2 a moment."""
    with DbSession(engine) as db:
        user, locked = authenticate(db, username, password, max_failures=max_failures,
                                    lockout=dt.timedelta(minutes=lockout_minutes), remote=remote)
        if user:
            # The session carries the account's session version: raising it ends the session.
            return {"id": user.id, "username": user.username, "role": user.role, "sv": user.session_version}, None
        return None, locked


@routes.post("/logout")
@requires(Role.VIEWER)
async def logout(request: web.Request) -> web.Response:
    """Ends the account's sessions everywhere: a copied cookie is worthless from now on."""
    await audit(request, "logout")
    user = current_user(request)
    if user:
        await in_thread(request, end_sessions, request.app[ENGINE], user["id"])
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")
