"""Log in, log out.  A new session on each login, so a session id planted before login is useless."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.accounts import Role, authenticate
from robocall.web.audit import audit
from robocall.web.i18n import pick_language, translate
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.security import current_user, public, requires
from robocall.web.templating import render
from robocall.web.threads import in_thread

routes = web.RouteTableDef()


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would help phishing.
    return target if target.startswith("/") and not target.startswith("//") else "/escalations"


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
    user, locked = await in_thread(request, _authenticate, request.app[ENGINE], username, password,
                                   settings.login_max_failures, settings.login_lockout_minutes, request.remote or "")
    if user:
        session = await new_session(request)
        session["user"] = user
        await audit(request, "login", "user", user["id"], actor=user["username"])
        raise web.HTTPFound(_safe_next(str(form.get("next", ""))))
    await audit(request, "login_failed", "user", "", {"username": username, "locked": bool(locked)}, actor=username or "?")
    lang = pick_language(request)
    error = translate("login_failed", lang)
    if locked:
        local = locked.astimezone(settings.tzinfo).strftime("%H:%M")
        error = f"{translate('login_locked', lang)} {local}."
    return render(request, "login.html", {"next": _safe_next(str(form.get("next", ""))), "error": error},
                  status=429 if locked else 401)


def _authenticate(engine: Engine, username: str, password: str, max_failures: int, lockout_minutes: int,
                  remote: str) -> tuple[dict[str, Any] | None, dt.datetime | None]:
    """(the session's user, None) or (None, locked until); hashing the password takes argon2 a moment."""
    with DbSession(engine) as db:
        user, locked = authenticate(db, username, password, max_failures=max_failures,
                                    lockout=dt.timedelta(minutes=lockout_minutes), remote=remote)
        if user:
            return {"id": user.id, "username": user.username, "role": user.role}, None
        return None, locked


@routes.post("/logout")
@requires(Role.VIEWER)
async def logout(request: web.Request) -> web.Response:
    await audit(request, "logout")
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")
