"""The audit log: every view of personal data and every action, with who did it; and reading it back."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.models import AuditLog
from robocall.web.keys import ENGINE
from robocall.web.security import current_username
from robocall.web.threads import in_thread

AUDIT_PAGE = 300  # newest entries shown at once


async def audit(request: web.Request, action: str, object_type: str = "", object_id: object = "",
                detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
    """Record one audit entry in its own transaction (so a failed action is still logged as tried)."""
    entry = AuditLog(actor=actor or current_username(request) or "anonymous", action=action,
                     object_type=object_type, object_id=str(object_id),
                     detail={"path": request.path, **(detail or {})})
    await in_thread(request, _write, request.app[ENGINE], entry)


def _write(engine: Engine, entry: AuditLog) -> None:
    with DbSession(engine) as db:
        db.add(entry)
        db.commit()


def audit_entries(engine: Engine, actor: str = "", action: str = "") -> list[AuditLog]:
    """The newest AUDIT_PAGE entries, of one actor and/or one action when given."""
    conditions = []
    if actor:
        conditions.append(AuditLog.actor == actor)
    if action:
        conditions.append(AuditLog.action == action)
    with DbSession(engine) as db:
        return list(db.exec(select(AuditLog).where(*conditions)
                            .order_by(col(AuditLog.id).desc()).limit(AUDIT_PAGE)).all())
