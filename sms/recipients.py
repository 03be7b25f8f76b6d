"""Where a campaign's recipients come from: a CSV file (streamed row by row) or the contacts table
(a carrier's rapid-trace export is sms/rapidtrace.py).

A recipient is the raw phone value plus the fields its template may use: the
file's columns (header -> value) or the contact's fields.  Nothing here holds
the whole list in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from robocall.contacts.importer import HEADER_ALIASES, fold
from robocall.models import Contact
from robocall.text import strip_accents

_PHONE_HEADERS = HEADER_ALIASES["phone"]


class RecipientsError(ValueError):
    """The list can't be read at all (no phone column, unknown filter...)."""


class Recipient(NamedTuple):  # one per row of a list (a NamedTuple: 4x cheaper to make than a frozen dataclass)
    row: int  # line of the file (header = 1) or the contact id
    raw: str  # the phone as written
    fields: Mapping[str, str] = MappingProxyType({})
    # Set when the source already knows the row is unusable (a rapid trace's unreadable time):
    # prepare() rejects it with this reason and `raw` as the value shown.
    error: str = ""


def csv_recipients(path: str | Path, phone_column: str | None = None) -> Iterator[Recipient]:
    """Rows of a CSV file with a header row; the phone column is found by its header
    ("Số điện thoại", "SĐT", "phone"...) unless named.  Field names are the headers
    folded to ASCII (``Họ và tên`` -> ``ho_va_ten``) and the plain header too."""
    path = Path(path)
    with _open(path) as handle:
        reader = csv.reader(_utf8_lines(handle, path))
        header = next(reader, None)
        if header is None:
            raise RecipientsError(f"{path} is empty")
        index = _phone_index(header, phone_column)
        names = [_field_name(h) for h in header]
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            raw = cells[index] if index < len(cells) else ""
            yield Recipient(line, raw, dict(zip(names, cells)))


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise RecipientsError(f"cannot open {path}: {exc.strerror}") from None


def _utf8_lines(handle: BinaryIO, path: Path) -> Iterator[str]:
    """The file's lines as text, decoded one by one so that a line that is not UTF-8 is named exactly
    (the rows before it have been read and kept)."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise RecipientsError(f"{path}: line {number} is not UTF-8 text (save the list as \"CSV UTF-8\")"
                                  ) from None


def csv_fields(path: str | Path) -> list[str]:
    """Template field names the file offers (its headers, folded), read from the header only."""
    path = Path(path)
    with _open(path) as handle:  # the header's line only: a bad line further down is for the reading to name
        header = next(csv.reader(_utf8_lines(handle, path)), None) or []
    return [_field_name(h) for h in header]


def _phone_index(header: list[str], phone_column: str | None) -> int:
    if phone_column is not None:
        wanted = fold(phone_column)
        for i, h in enumerate(header):
            if fold(h) == wanted:
                return i
        raise RecipientsError(f"no column {phone_column!r} in the header")
    for i, h in enumerate(header):
        if fold(h) in _PHONE_HEADERS:
            return i
    raise RecipientsError("no phone column found (name it with --phone-column)")


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
                raise RecipientsError(f"contact filter {item!r}: use category=..., district=... or commune=...")
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
