"""Admin pages: the audit log, the users, and the settings in force (read only: they come from the
environment or .env, see the README)."""

from __future__ import annotations

import re

from aiohttp import web
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.accounts import AccountError, Role, User, add_user
from robocall.config import Settings
from robocall.models import AuditLog
from robocall.web.audit import audit
from robocall.web.dashboard import render
from robocall.web.keys import ENGINE, SETTINGS
from robocall.web.security import current_username, requires

routes = web.RouteTableDef()
AUDIT_PAGE = 300


def audit_entries(request: web.Request) -> list[AuditLog]:
    q = request.query
    conditions = []
    if q.get("actor"):
        conditions.append(AuditLog.actor == q["actor"])
    if q.get("action"):
        conditions.append(AuditLog.action == q["action"])
    with DbSession(request.app[ENGINE]) as db:
        return list(db.exec(select(AuditLog).where(*conditions)
                            .order_by(col(AuditLog.id).desc()).limit(AUDIT_PAGE)).all())


@routes.get("/audit")
@requires(Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    return render(request, "audit.html", {"entries": audit_entries(request)})


@routes.get("/users")
@requires(Role.ADMIN)
async def users_page(request: web.Request) -> web.Response:
    with DbSession(request.app[ENGINE]) as db:
        users = list(db.exec(select(User).order_by(User.username)).all())
    return render(request, "users.html", {"users": users, "roles": [r.value for r in Role], "error": ""})


@routes.post("/users")
@requires(Role.ADMIN)
async def users_add(request: web.Request) -> web.Response:
    form = await request.post()
    username, role = str(form.get("username", "")), str(form.get("role", ""))
    try:
        user = add_user(request.app[ENGINE], username, role, str(form.get("password", "")))
    except AccountError as error:
        with DbSession(request.app[ENGINE]) as db:
            users = list(db.exec(select(User).order_by(User.username)).all())
        return render(request, "users.html", {"users": users, "roles": [r.value for r in Role], "error": str(error)},
                      status=400)
    audit(request, "user_add", "user", user.id, {"username": user.username, "role": user.role})
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
    with DbSession(request.app[ENGINE]) as db:
        user = db.get(User, int(request.match_info["id"]))
        if user is None:
            raise web.HTTPNotFound(text="no such user")
        role = str(form.get("role", user.role))
        if role not in {r.value for r in Role}:
            raise web.HTTPBadRequest(text=f"400: unknown role {role!r}")
        active = form.get("active", "1" if user.active else "0") == "1"
        if user.username == current_username(request) and (role != Role.ADMIN or not active):
            raise web.HTTPBadRequest(text="400: you cannot demote or disable yourself")
        user.role, user.active = role, active
        db.add(user)
        db.commit()
        detail = {"username": user.username, "role": role, "active": active}
    audit(request, "user_change", "user", request.match_info["id"], detail)
    raise web.HTTPSeeOther("/users")
