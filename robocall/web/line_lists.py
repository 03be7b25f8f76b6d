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
from robocall.models import CallAttempt, Contact, Escalation, FollowUp, FollowUpState, stored_utc
from robocall.phones import InvalidPhone, normalize
from robocall.text import search_fold
from robocall.web.escalation_queries import UNRESOLVED
from robocall.web.scope import WHOLE_PROVINCE, Scope

KINDS = ("symptomatic", "non_reporting", "monitoring", "closed")
# Rules of the shipped flows that mean the person reported symptoms or a positive test; the
# other rules (callbacks, reports, leaving quarantine) are not about the person's health.
SYMPTOM_RULES = ("trieu_chung_nang", "co_trieu_chung", "xet_nghiem_duong_tinh")
LIST_LIMIT = 500
# Above every character a folded name holds (a-z, 0-9, space): the end of a prefix's range.
_AFTER_FOLDED = "~"
SEARCH_HELP = ("Nhập cả số điện thoại (vd. 0913 000 123) hoặc ít nhất 2 chữ cái đầu của họ tên hay của tên gọi / "
               "give the whole phone number (e.g. 0913 000 123) or at least the first 2 letters of the full or given name")


class SearchError(ValueError):
    """A search that cannot be run as asked (part of a number, too short a name); the text says what to give."""


@dataclass(frozen=True)
class ContactSearch:
    """A contact search: by the whole number (`phone`, E.164) or by the start of the folded name."""
    phone: str = ""
    name: str = ""

    @classmethod
    def parse(cls, q: str) -> ContactSearch:
        """Digits alone are a phone number, read by the project's phone rules, and must be whole: a part of a
        number would let someone confirm the digits a mask hides one at a time.  Anything else is a name,
        folded (case, accents, đ) the same way the stored `name_folded` is."""
        text = q.strip()
        if text and not any(ch.isalpha() for ch in text) and any(ch.isdigit() for ch in text):
            try:
                return cls(phone=normalize(text, require_mobile=False).e164)
            except InvalidPhone:
                raise SearchError(SEARCH_HELP) from None
        folded = search_fold(text)
        if len(folded) < 2:
            raise SearchError(SEARCH_HELP)
        return cls(name=folded)

    def condition(self) -> Any:
        if self.phone:
            return col(Contact.phone) == self.phone
        # The start of the whole name ("nguyen van") or of the given name ("binh"), each a range on its own
        # index rather than LIKE: no wildcard to escape, and the indexes are walked on SQLite and PostgreSQL
        # alike (the columns compare byte by byte on both).
        end = self.name + _AFTER_FOLDED
        return or_(and_(col(Contact.name_folded) >= self.name, col(Contact.name_folded) < end),
                   and_(col(Contact.given_folded) >= self.name, col(Contact.given_folded) < end))

    def audit_detail(self) -> dict[str, str]:
        """What the audit keeps of the search: the number masked (the search itself is the reveal audited)."""
        return {"phone": mask_phone(self.phone)} if self.phone else {"name": self.name}


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
              category: str = "", search: ContactSearch | None = None, whole: bool = False,
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
        if search is None:
            raise ValueError("a search needs its terms")
        conditions.append(search.condition())
    for name, value in (("district", district), ("commune", commune), ("category", category)):
        if value:
            conditions.append(getattr(Contact, name) == value)
    total = db.exec(select(func.count()).select_from(Contact).where(*conditions)).one()
    # Lists read by place; a search by name, alphabetically (its own index's order).
    order = ((Contact.name_folded, Contact.id) if kind == "search"
             else (Contact.district, Contact.commune, Contact.name))
    contacts = db.exec(select(Contact).where(*conditions).order_by(*order)
                       .limit(None if whole else LIST_LIMIT)).all()
    ids = [c.id for c in contacts]
    last_calls: dict[int, tuple[dt.date, str]] = {}
    # Ordered here (a screen of contacts' calls), not by the database: an ORDER BY on an indexed column can
    # make SQLite walk that whole index instead of looking the contacts up (it did with one on queued_at).
    calls = db.exec(select(CallAttempt.contact_id, CallAttempt.day, CallAttempt.state, CallAttempt.queued_at,
                           CallAttempt.id).where(col(CallAttempt.contact_id).in_(ids))).all()
    for contact_id, day, state, _, _ in sorted(calls, key=lambda c: (stored_utc(c[3]), c[4] or 0)):
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
