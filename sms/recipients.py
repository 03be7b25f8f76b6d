"""Where a campaign's recipients come from: a list (robocall.tabular, streamed row by row) or the contacts table
(a carrier's rapid-trace export is sms/rapidtrace.py).

A recipient is the raw phone value plus the fields its template may use: the
file's columns (header -> value) or the contact's fields.  Nothing here holds
the whole list in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from robocall.contacts.importer import HEADER_ALIASES
from robocall.models import Contact
from robocall.tabular import HeaderTest, TableError, Unreadable, header_key, open_table
from robocall.text import bilingual, strip_accents

_PHONE_HEADERS = HEADER_ALIASES["phone"]


class RecipientsError(TableError):
    """The list can't be read at all (no phone column, unknown filter...)."""


class Recipient(NamedTuple):  # one per row of a list (a NamedTuple: 4x cheaper to make than a frozen dataclass)
    row: int  # line of the file (header = 1) or the contact id
    raw: str  # the phone as written
    fields: Mapping[str, str] = MappingProxyType({})
    # Set when the source already knows the row is unusable (a rapid trace's unreadable time):
    # prepare() rejects it with this reason and `raw` as the value shown.
    error: str = ""


def csv_recipients(path: str | Path, phone_column: str | None = None,
                   warnings: list[str] | None = None) -> Iterator[Recipient]:
    """Rows of a list with a header row (CSV UTF-8, or XLSX); the phone column is found by its header
    ("Số điện thoại", "SĐT", "phone"...) unless named.  Field names are the headers
    folded to ASCII (``Họ và tên`` -> ``ho_va_ten``) and the plain header too.  What was mended while
    reading (bad bytes, control characters: named by line) goes into ``warnings`` once the list is read."""
    path = Path(path)
    with open_list(path, warnings, _header_test(phone_column)) as (header, reader, header_row):
        index = _phone_index(header, phone_column)
        names = [_field_name(h) for h in header]
        for line, cells in enumerate(reader, start=header_row + 1):
            if isinstance(cells, Unreadable):  # kept in its place: the rows after it are read on their own
                yield Recipient(line, "", error=cells.message)
                continue
            if not any(c.strip() for c in cells):
                continue
            raw = cells[index] if index < len(cells) else ""
            yield Recipient(line, raw, dict(zip(names, cells)))


def csv_fields(path: str | Path, phone_column: str | None = None) -> list[str]:
    """Template field names the file offers (its headers, folded), once the list is known to be usable:
    it has a phone column and at least one row under its header (else :class:`RecipientsError`, before any
    campaign exists).  Reads only up to the first row."""
    path = Path(path)
    with open_list(path, None, _header_test(phone_column)) as (header, reader, _):
        _phone_index(header, phone_column)
        if not any(isinstance(cells, Unreadable) or any(c.strip() for c in cells) for cells in reader):
            raise RecipientsError(f"{path.name}: không có hàng nào dưới dòng tiêu đề"
                                  f" / {path.name} has no row under its header")
        return [_field_name(h) for h in header]


# Rows looked at for the header row (a title block above it is skipped, as in contact import).
HEADER_SEARCH_ROWS = 30


@contextmanager
def open_list(path: Path, warnings: list[str] | None = None, is_header: HeaderTest | None = None
              ) -> Iterator[tuple[list[str], Iterator[list[str] | Unreadable], int]]:
    """A list or a carrier's export, each line decoded on its own (robocall.tabular): its header row, the
    rows after it (an unreadable row comes as :class:`Unreadable`, in its place) and the header's row
    number.  The header is the first of the first rows that `is_header` takes (a title block above it
    skipped), else the first row."""
    with open_table(path, as_text=True, error=RecipientsError, is_header=is_header) as table:
        looked_at: list[tuple[int, list[str] | Unreadable]] = []
        found: tuple[int, list[str]] | None = None
        for number, cells in enumerate(table.records, start=1):
            looked_at.append((number, cells))
            if not isinstance(cells, Unreadable) and (is_header is None or is_header(cells)):
                found = (number, cells)
                break
            if len(looked_at) >= HEADER_SEARCH_ROWS:
                break
        if found is None:  # no row says it is the header: the first row is, and the reader says what is wrong
            found = next(((n, c) for n, c in looked_at if not isinstance(c, Unreadable)), None)
            if found is None:
                raise RecipientsError(f"{path.name} trống / {path.name} is empty")
            after = found[0]
            rest: Iterator[list[str] | Unreadable] = chain((c for n, c in looked_at if n > after), table.records)
        else:
            rest = table.records
        header_row, header = found
        yield header, rest, header_row
        if warnings is not None:
            warnings.extend(table.warnings)


def _header_test(phone_column: str | None) -> HeaderTest:
    wanted = {header_key(phone_column)} if phone_column else _PHONE_HEADERS

    def is_header(cells: list[Any]) -> bool:
        return any(header_key(str(c)) in wanted for c in cells)
    return is_header


def _phone_index(header: list[str], phone_column: str | None) -> int:
    if phone_column is not None:
        wanted = header_key(phone_column)
        for i, h in enumerate(header):
            if header_key(h) == wanted:
                return i
        raise RecipientsError(f"không có cột {phone_column!r} trong dòng tiêu đề / no column {phone_column!r}"
                              " in the header")
    for i, h in enumerate(header):
        if header_key(h) in _PHONE_HEADERS:
            return i
    shown = ", ".join(repr(h) for h in header if h.strip()) or "-"
    raise RecipientsError(f"không tìm thấy cột số điện thoại (chỉ rõ bằng --phone-column); các cột: {shown}"
                          f" / no phone column found (name it with --phone-column); the headers are: {shown}")


def _field_name(header: str) -> str:
    """A header as a template field name: ``Họ và tên`` -> ``ho_va_ten``."""
    words = "".join(c if c.isalnum() else " " for c in strip_accents(header).lower()).split()
    return "_".join(words) or "_"


@dataclass(frozen=True)
class ContactFilter:
    categories: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ContactFilter:
        """``category=F1,F2;district=Ba Đình`` (keys: category, district, commune; values joined by ,)."""
        parts: dict[str, tuple[str, ...]] = {}
        for item in filter(None, (p.strip() for p in text.split(";"))):
            key, sep, values = item.partition("=")
            key = key.strip().lower()
            if not sep or key not in ("category", "district", "commune"):
                raise RecipientsError(bilingual(
                    f"bộ lọc liên hệ {item!r}: dùng category=..., district=... hoặc commune=...",
                    f"contact filter {item!r}: use category=..., district=... or commune=..."))
            parts[{"category": "categories", "district": "districts", "commune": "communes"}[key]] = tuple(v.strip() for v in values.split(",") if v.strip())
        return cls(**parts)

    def describe(self) -> str:
        shown = [f"{k}={','.join(v)}" for k, v in
                 (("category", self.categories), ("district", self.districts), ("commune", self.communes)) if v]
        return "contacts: " + ("; ".join(shown) or "all")


CONTACT_FIELDS = ("name", "category", "district", "commune")


def contact_recipients(engine: Engine, where: ContactFilter) -> Iterator[Recipient]:
    """Contacts matching the filter, streamed from the database (opted-out ones are filtered later)."""
    query = select(Contact.id, Contact.phone, Contact.name, Contact.category, Contact.district, Contact.commune)
    if where.categories:
        query = query.where(Contact.category.in_(where.categories))  # type: ignore[attr-defined]
    if where.districts:
        query = query.where(Contact.district.in_(where.districts))  # type: ignore[attr-defined]
    if where.communes:
        query = query.where(Contact.commune.in_(where.communes))  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=5000).execute(query.order_by(Contact.id))
        for contact_id, phone, name, category, district, commune in rows:
            yield Recipient(contact_id, phone, {"name": name, "category": category, "district": district,
                                                "commune": commune})
