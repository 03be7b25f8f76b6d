"""Writing the audit log: every view of personal data and every action, with who did it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.models import AuditLog
from robocall.web.keys import ENGINE
from robocall.web.security import current_username


def audit(request: web.Request, action: str, object_type: str = "", object_id: object = "",
          detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
    """Record one audit entry in its own transaction (so a failed action is still logged as tried)."""
    with DbSession(request.app[ENGINE]) as db:
        db.add(AuditLog(actor=actor or current_username(request) or "anonymous", action=action,
                        object_type=object_type, object_id=str(object_id),
                        detail={"path": request.path, **(detail or {})}))
        db.commit()
