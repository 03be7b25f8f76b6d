"""Line lists as public-health teams keep them: symptomatic, non-reporting, under monitoring, closed.

"As of" a local day: by default the last day that has follow-ups (today in production; the last
campaign day in a demo or an archived database), so the lists are never empty just because the
campaign is over.  A list as of a day is what was recorded by the end of that day: the cases raised and
not yet resolved then, the opt-outs made by then, the follow-ups ended before it, the last call up to it.
Every list is read a page at a time in a fixed order (robocall.web.paging).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.logging_setup import mask_phone
from robocall.models import (
    CallAttempt,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
    FollowUp,
    FollowUpState,
    stored_utc,
)
from robocall.phones import InvalidPhone, normalize
from robocall.text import search_fold
from robocall.web.escalation_queries import UNRESOLVED
from robocall.web.paging import Cursor, Ordering, Page, keyset_page
from robocall.web.scope import WHOLE_PROVINCE, Scope

KINDS = ("symptomatic", "non_reporting", "monitoring", "closed")
# Rules of the shipped flows that mean the person reported symptoms or a positive test; the
# other rules (callbacks, reports, leaving quarantine) are not about the person's health.
SYMPTOM_RULES = ("trieu_chung_nang", "co_trieu_chung", "xet_nghiem_duong_tinh")
PAGE_SIZE = 20  # rows a page of a list shows: a few phone screens of cards, as the queue
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


def day_end(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The end of local `day` in UTC: what was recorded before it is what was true that day."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)


def opted_out_by(end: dt.datetime) -> Any:
    """Contacts who had said no before `end` (an opt-out of unknown time counts from the start)."""
    return and_(Contact.opted_out == True,  # noqa: E712
                or_(col(Contact.opted_out_at).is_(None), col(Contact.opted_out_at) < end))


def unresolved_at(end: dt.datetime | None) -> Any:
    """Escalations open at `end` (now when None): raised before it and not resolved then.  A case resolved
    before `end` is resolved then if it is still resolved now, or if a "resolved" event before `end` was
    not followed by a "reopened" one before `end` (reopening clears `resolved_at`, the timeline keeps it)."""
    if end is None:
        return col(Escalation.status).in_(UNRESOLVED)
    resolved, reopened = aliased(EscalationEvent), aliased(EscalationEvent)
    resolved_then = or_(
        and_(Escalation.status == EscalationStatus.RESOLVED, col(Escalation.resolved_at).is_not(None),
             col(Escalation.resolved_at) < end),
        exists().where(resolved.escalation_id == Escalation.id, resolved.kind == "resolved", resolved.at < end,
                       ~exists().where(reopened.escalation_id == Escalation.id, reopened.kind == "reopened",
                                       reopened.at > resolved.at, reopened.at < end)))
    return and_(col(Escalation.created_at) < end, ~resolved_then)


# Lists read by place; a search by name, alphabetically (its own index's order).  The id last: the key
# of a row is unique, so a page boundary falls between two rows, never inside a tie.
LIST_ORDER = Ordering("list", (col(Contact.district), col(Contact.commune), col(Contact.name), col(Contact.id)),
                      (str, str, str, int))
SEARCH_ORDER = Ordering("search", (col(Contact.name_folded), col(Contact.id)), (str, int))


def ordering_for(kind: str) -> Ordering:
    return SEARCH_ORDER if kind == "search" else LIST_ORDER


def line_list(db: DbSession, kind: str, as_of: dt.date, *, district: str = "", commune: str = "",
              category: str = "", search: ContactSearch | None = None, scope: Scope = WHOLE_PROVINCE,
              tz: dt.tzinfo = dt.UTC, cursor: Cursor | None = None, size: int = PAGE_SIZE,
              count: bool = True) -> Page[ListRow]:
    """One page of the list as it stood at the end of local day `as_of` (the search: as it stands now),
    from `cursor` on, with how many rows the whole list has (`count`; an export's chunks skip it)."""
    if kind not in KINDS and kind != "search":
        raise ValueError(kind)
    end = None if kind == "search" else day_end(as_of, tz)
    conditions: list[Any] = scope.contact_condition()
    if kind == "symptomatic":
        conditions.append(col(Contact.id).in_(select(Escalation.contact_id).where(
            col(Escalation.rule).in_(SYMPTOM_RULES), unresolved_at(end))))
    elif kind == "non_reporting":
        conditions.append(col(Contact.id).in_(select(FollowUp.contact_id).where(
            FollowUp.day == as_of, FollowUp.state == FollowUpState.UNREACHED,
            col(FollowUp.escalation_id).is_(None))))  # a missed callback is not a missed daily report
    elif kind == "monitoring":
        assert end is not None
        conditions += [~opted_out_by(end), col(Contact.monitoring_end) >= as_of]
    elif kind == "closed":
        assert end is not None
        conditions.append(or_(opted_out_by(end),
                              and_(col(Contact.monitoring_end).is_not(None), col(Contact.monitoring_end) < as_of)))
    elif kind == "search":
        if search is None:
            raise ValueError("a search needs its terms")
        conditions.append(search.condition())
    for name, value in (("district", district), ("commune", commune), ("category", category)):
        if value:
            conditions.append(getattr(Contact, name) == value)
    ordering = ordering_for(kind)

    def fetch(after: Any, order: Sequence[Any], limit: int) -> list[Contact]:
        return list(db.exec(select(Contact).where(*conditions, *([] if after is None else [after]))
                            .order_by(*order).limit(limit)).all())

    page = keyset_page(fetch, ordering, lambda c: tuple(getattr(c, col_.key) for col_ in ordering.columns),
                       cursor, size)
    if count:
        page.total = db.exec(select(func.count()).select_from(Contact).where(*conditions)).one()
    return page.with_rows(_rows(db, page.rows, None if kind == "search" else as_of, end))


def _rows(db: DbSession, contacts: list[Contact], as_of: dt.date | None, end: dt.datetime | None) -> list[ListRow]:
    """The contacts as list rows: their last call up to `as_of` and their cases open at `end`."""
    ids = [c.id for c in contacts]
    last_calls: dict[int, tuple[dt.date, str]] = {}
    # Ordered here (a screen of contacts' calls), not by the database: an ORDER BY on an indexed column can
    # make SQLite walk that whole index instead of looking the contacts up (it did with one on queued_at).
    calls = select(CallAttempt.contact_id, CallAttempt.day, CallAttempt.state, CallAttempt.queued_at,
                   CallAttempt.id).where(col(CallAttempt.contact_id).in_(ids))
    if as_of is not None:
        calls = calls.where(CallAttempt.day <= as_of)
    for contact_id, day, state, _, _ in sorted(db.exec(calls).all(), key=lambda c: (stored_utc(c[3]), c[4] or 0)):
        last_calls[contact_id] = (day, state)  # ordered, so the last one wins
    open_cases = dict(db.exec(select(Escalation.contact_id, func.count()).where(
        col(Escalation.contact_id).in_(ids), unresolved_at(end)).group_by(Escalation.contact_id)).all())
    return [ListRow(contact_id=c.id or 0, name=c.name, phone_masked=mask_phone(c.phone), category=c.category,
                    district=c.district, commune=c.commune, exposure_date=c.exposure_date,
                    monitoring_end=c.monitoring_end, last_call_day=last_calls.get(c.id or 0, (None, ""))[0],
                    last_call_state=last_calls.get(c.id or 0, (None, ""))[1], open_cases=open_cases.get(c.id, 0))
            for c in contacts]
