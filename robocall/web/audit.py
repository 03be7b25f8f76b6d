"""The audit log: every view of personal data and every action, with who did it; and reading it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.models import AuditLog, stored_utc
from robocall.web.keys import ENGINE
from robocall.web.paging import Cursor, Ordering, Page, keyset_page
from robocall.web.params import parse_day
from robocall.web.security import current_username
from robocall.web.threads import in_thread

AUDIT_PAGE = 50  # entries a page of the audit log shows


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


@dataclass(frozen=True)
class AuditFilters:
    """What the audit log is narrowed to: local days since..until, who, what, on which object."""
    since: dt.date | None = None
    until: dt.date | None = None
    actor: str = ""
    action: str = ""  # an action, or a family of them: "escalation" is every escalation_*
    object_type: str = ""
    object_id: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuditFilters:
        since, until = parse_day(query.get("since"), "since"), parse_day(query.get("until"), "until")
        if since and until and since > until:
            raise web.HTTPBadRequest(text="400: since: 'since' sau 'until' / 'since' is after 'until'")
        return cls(since=since, until=until, **{name: query.get(name, "").strip()
                                                for name in ("actor", "action", "object_type", "object_id")})

    def conditions(self, tz: dt.tzinfo) -> list[Any]:
        found: list[Any] = []
        if self.since:
            found.append(col(AuditLog.at) >= dt.datetime.combine(self.since, dt.time(), tz).astimezone(dt.UTC))
        if self.until:
            end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
            found.append(col(AuditLog.at) < end)
        if self.actor:
            found.append(AuditLog.actor == self.actor)
        if self.action:
            found.append(or_(AuditLog.action == self.action,
                             col(AuditLog.action).startswith(self.action + "_", autoescape=True)))
        if self.object_type:
            found.append(AuditLog.object_type == self.object_type)
        if self.object_id:
            found.append(AuditLog.object_id == self.object_id)
        return found


# Newest first; the id breaks ties between entries of the same microsecond.
AUDIT_ORDER = Ordering("audit", (col(AuditLog.at), col(AuditLog.id)), (dt.datetime, int), descending=True)


def audit_entries(engine: Engine, filters: AuditFilters = AuditFilters(), tz: dt.tzinfo = dt.UTC,
                  cursor: Cursor | None = None, size: int = AUDIT_PAGE) -> Page[AuditLog]:
    """One page of the entries `filters` keep, newest first, from `cursor` on."""
    conditions = filters.conditions(tz)
    with DbSession(engine) as db:
        def fetch(after: Any, order: Sequence[Any], limit: int) -> list[AuditLog]:
            return list(db.exec(select(AuditLog).where(*conditions, *([] if after is None else [after]))
                                .order_by(*order).limit(limit)).all())

        return keyset_page(fetch, AUDIT_ORDER, lambda e: (stored_utc(e.at), e.id or 0), cursor, size)
