"""A line list as a request asks for it (the page, its export and the JSON API read it the same way)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web
from sqlmodel import Session as DbSession

from robocall.web.keys import SETTINGS
from robocall.web.line_lists import KINDS, LIST_ORDER, PAGE_SIZE, ListRow, default_as_of, line_list
from robocall.web.paging import Cursor, Page, read_cursor
from robocall.web.params import parse_day
from robocall.web.scope import Scope, scope_of


@dataclass(frozen=True)
class ListAsked:
    """A line list as the query string asks for it: which, as of when, filtered how, from where."""
    kind: str
    as_of: dt.date | None
    today: dt.date
    district: str
    commune: str
    category: str
    tz: dt.tzinfo
    scope: Scope
    cursor: Cursor | None

    @classmethod
    def read(cls, request: web.Request) -> ListAsked:
        kind = request.match_info["kind"]
        if kind not in KINDS:
            raise web.HTTPNotFound(text="no such list")
        q, tz = request.query, request.app[SETTINGS].tzinfo
        return cls(kind=kind, as_of=parse_day(q.get("as_of")), today=dt.datetime.now(tz).date(),
                   district=q.get("district", ""), commune=q.get("commune", ""), category=q.get("category", ""),
                   tz=tz, scope=scope_of(request), cursor=read_cursor(q.get("cursor"), LIST_ORDER))


def read_list_page(db: DbSession, asked: ListAsked, size: int | None = None, count: bool = True,
                   cursor: Cursor | None = None) -> tuple[dt.date, Page[ListRow]]:
    """(the day it is as of, one page of the list) from `cursor`, else from the asked one."""
    as_of = asked.as_of or default_as_of(db, asked.today)
    return as_of, line_list(db, asked.kind, as_of, district=asked.district, commune=asked.commune,
                            category=asked.category, scope=asked.scope, tz=asked.tz,
                            cursor=cursor or asked.cursor, size=size or PAGE_SIZE, count=count)
