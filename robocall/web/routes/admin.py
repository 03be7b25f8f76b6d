"""Admin pages: the audit log, the users, and the settings in force (read only: they come from the
environment or .env, see the README)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import select

from robocall.accounts import AccountError, Role, User, add_user, districts_text, locked_until, unlock
from robocall.config import Settings
from robocall.labels import LABELS
from robocall.models import utcnow
from robocall.web.audit import AUDIT_ORDER, AuditFilters, audit, audit_entries
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.paging import pager_urls, read_cursor
from robocall.web.security import current_username, requires
from robocall.web.templating import render
from robocall.web.threads import in_thread

routes = web.RouteTableDef()


@routes.get("/audit")
@requires(Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    filters = AuditFilters.from_query(request.query)
    cursor = read_cursor(request.query.get("cursor"), AUDIT_ORDER)
    page = await in_thread(request, audit_entries, request.app[ENGINE], filters, request.app[SETTINGS].tzinfo, cursor)
    actors = await in_thread(request, _usernames, request.app[ENGINE])
    return render(request, "audit.html", {"entries": page.rows, "page": page, "filters": filters, "actors": actors,
                                          "actions": sorted(LABELS["action"]), "object_types": sorted(LABELS["object"]),
                                          **pager_urls(request, page)})


def _usernames(engine: Engine) -> list[str]:
    with DbSession(engine) as db:
        return list(db.exec(select(User.username).order_by(User.username)).all())


def _users(engine: Engine, settings: Settings) -> tuple[list[User], dict[str, dt.datetime]]:
    """The users, and until when each locked one is locked."""
    now, lockout = utcnow(), dt.timedelta(minutes=settings.login_lockout_minutes)
    with DbSession(engine) as db:
        users = list(db.exec(select(User).order_by(User.username)).all())
        locks = {u.username: until for u in users
                 if (until := locked_until(db, u.username, settings.login_max_failures, lockout, now))}
        return users, locks


async def _users_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    users, locks = await in_thread(request, _users, request.app[ENGINE], request.app[SETTINGS])
    return render(request, "users.html", {"users": users, "locks": locks, "roles": [r.value for r in Role],
                                          "error": error}, status=status)


@routes.get("/users")
@requires(Role.ADMIN)
async def users_page(request: web.Request) -> web.Response:
    return await _users_page(request)


@routes.post("/users/{id:\\d+}/unlock")
@requires(Role.ADMIN)
async def users_unlock(request: web.Request) -> web.Response:
    """Lift a user's login lockout now (the person called the CDC; otherwise it ends by itself)."""
    username = await in_thread(request, _unlock, request.app[ENGINE], int(request.match_info["id"]),
                               current_username(request))
    await audit(request, "user_unlock", "user", request.match_info["id"], {"username": username})
    raise web.HTTPSeeOther("/users")


def _unlock(engine: Engine, user_id: int, me: str) -> str:
    with DbSession(engine) as db:
        user = db.get(User, user_id)
        if user is None:
            raise web.HTTPNotFound(text="no such user")
        username = user.username
    unlock(engine, username, me)
    return username


@routes.post("/users")
@requires(Role.ADMIN)
async def users_add(request: web.Request) -> web.Response:
    form = await request.post()
    username, role = str(form.get("username", "")), str(form.get("role", ""))
    try:
        user = await in_thread(request, add_user, request.app[ENGINE], username, role, str(form.get("password", "")),
                               str(form.get("districts", "")))
    except AccountError as error:
        return await _users_page(request, str(error), 400)
    await audit(request, "user_add", "user", user.id, {"username": user.username, "role": user.role,
                                                       "districts": user.districts})
    raise web.HTTPSeeOther("/users")


# Settings that are or may contain credentials (SMS gateway entries carry passwords): never shown.
_SECRET_NAME = re.compile(r"secret|token|password|gateways|api_key", re.I)


def shown_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, meaning) for every setting; secrets and passwords in URLs never shown."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = str(getattr(settings, name))
        if _SECRET_NAME.search(name):
            value = "••••••" if value and value != "{}" else "—"
        value = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:••••@", value)  # user:password@host
        rows.append((name.upper(), value, field.description or ""))
    return rows


@routes.get("/settings")
@requires(Role.ADMIN)
async def settings_page(request: web.Request) -> web.Response:
    return render(request, "settings.html", {"settings": shown_settings(request.app[SETTINGS])})


@routes.post("/users/{id:\\d+}")
@requires(Role.ADMIN)
async def users_change(request: web.Request) -> web.Response:
    """Change a user's role or switch the account off/on (takes effect on their next request)."""
    form = await request.post()
    detail = await in_thread(request, _change_user, request.app[ENGINE], int(request.match_info["id"]),
                             form.get("role"), form.get("active"), current_username(request), form.get("districts"))
    await audit(request, "user_change", "user", request.match_info["id"], detail)
    raise web.HTTPSeeOther("/users")


def _change_user(engine: Engine, user_id: int, role_asked: Any, active_asked: Any, me: str,
                 districts_asked: Any = None) -> dict[str, Any]:
    with DbSession(engine) as db:
        user = db.get(User, user_id)
        if user is None:
            raise web.HTTPNotFound(text="no such user")
        role = str(role_asked if role_asked is not None else user.role)
        if role not in {r.value for r in Role}:
            raise web.HTTPBadRequest(text=f"400: unknown role {role!r}")
        active = (active_asked if active_asked is not None else ("1" if user.active else "0")) == "1"
        if user.username == me and (role != Role.ADMIN or not active):
            raise web.HTTPBadRequest(text="400: you cannot demote or disable yourself")
        user.role, user.active = role, active
        if districts_asked is not None:
            user.districts = districts_text(str(districts_asked))
        db.add(user)
        db.commit()
        return {"username": user.username, "role": role, "active": active, "districts": user.districts}
