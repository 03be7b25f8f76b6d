"""Line lists as public-health teams keep them: symptomatic, non-reporting, under monitoring, closed.

"As of" a local day: by default the last day that has follow-ups (today in production; the last
campaign day in a demo or an archived database), so the lists are never empty just because the
campaign is over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.logging_setup import mask_phone
from robocall.models import CallAttempt, Contact, Escalation, FollowUp, FollowUpState
from robocall.web.escalation_queries import UNRESOLVED
from robocall.web.scope import WHOLE_PROVINCE, Scope

KINDS = ("symptomatic", "non_reporting", "monitoring", "closed")
# Rules of the shipped flows that mean the person reported symptoms or a positive test; the
# other rules (callbacks, reports, leaving quarantine) are not about the person's health.
SYMPTOM_RULES = ("trieu_chung_nang", "co_trieu_chung", "xet_nghiem_duong_tinh")
LIST_LIMIT = 500


@dataclass
class ListRow:
    contact_id: int
    name: str
    phone_masked: str
    category: str
    district: str
    commune: str
    exposure_date: dt.date | None
    monitoring_end: dt.date | None
    last_call_day: dt.date | None
    last_call_state: str
    open_cases: int

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in ("exposure_date", "monitoring_end", "last_call_day"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def default_as_of(db: DbSession, today: dt.date) -> dt.date:
    last = db.exec(select(func.max(FollowUp.day))).one()
    return min(today, last) if last else today


def line_list(db: DbSession, kind: str, as_of: dt.date, *, district: str = "", commune: str = "",
              category: str = "", q: str = "", whole: bool = False,
              scope: Scope = WHOLE_PROVINCE) -> tuple[list[ListRow], int]:
    """The rows (one screen of LIST_LIMIT, or the whole list for exports) and how many there are in all."""
    if kind not in KINDS and kind != "search":
        raise ValueError(kind)
    conditions: list[Any] = scope.contact_condition()
    if kind == "symptomatic":
        conditions.append(col(Contact.id).in_(select(Escalation.contact_id).where(
            col(Escalation.rule).in_(SYMPTOM_RULES), col(Escalation.status).in_(UNRESOLVED))))
    elif kind == "non_reporting":
        conditions.append(col(Contact.id).in_(select(FollowUp.contact_id).where(
            FollowUp.day == as_of, FollowUp.state == FollowUpState.UNREACHED,
            col(FollowUp.escalation_id).is_(None))))  # a missed callback is not a missed daily report
    elif kind == "monitoring":
        conditions += [Contact.opted_out == False, col(Contact.monitoring_end) >= as_of]  # noqa: E712
    elif kind == "closed":
        conditions.append(or_(Contact.opted_out == True,  # noqa: E712
                              and_(col(Contact.monitoring_end).is_not(None), col(Contact.monitoring_end) < as_of)))
    elif kind == "search":
        digits = "".join(ch for ch in q if ch.isdigit())
        # Digits search the end of the number (what a caller reads out); otherwise the name.
        conditions.append(col(Contact.phone).endswith(digits) if len(digits) >= 3
                          else col(Contact.name).ilike(f"%{q.strip()}%"))
    for name, value in (("district", district), ("commune", commune), ("category", category)):
        if value:
            conditions.append(getattr(Contact, name) == value)
    total = db.exec(select(func.count()).select_from(Contact).where(*conditions)).one()
    contacts = db.exec(select(Contact).where(*conditions).order_by(Contact.district, Contact.commune, Contact.name)
                       .limit(None if whole else LIST_LIMIT)).all()
    ids = [c.id for c in contacts]
    last_calls: dict[int, tuple[dt.date, str]] = {}
    for contact_id, day, state in db.exec(select(CallAttempt.contact_id, CallAttempt.day, CallAttempt.state)
                                          .where(col(CallAttempt.contact_id).in_(ids))
                                          .order_by(col(CallAttempt.queued_at))).all():
        last_calls[contact_id] = (day, state)  # ordered, so the last one wins
    open_cases = dict(db.exec(select(Escalation.contact_id, func.count()).where(
        col(Escalation.contact_id).in_(ids), col(Escalation.status).in_(UNRESOLVED))
        .group_by(Escalation.contact_id)).all())
    rows = [ListRow(contact_id=c.id or 0, name=c.name, phone_masked=mask_phone(c.phone), category=c.category,
                    district=c.district, commune=c.commune, exposure_date=c.exposure_date,
                    monitoring_end=c.monitoring_end, last_call_day=last_calls.get(c.id or 0, (None, ""))[0],
                    last_call_state=last_calls.get(c.id or 0, (None, ""))[1], open_cases=open_cases.get(c.id, 0))
            for c in contacts]
    return rows, total
