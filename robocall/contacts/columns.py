"""Finding the header row and the column of each field: Vietnamese or English headers, or ``--column`` overrides.

Headers are compared folded (case, accents, punctuation and anything in
brackets ignored), and a title block above the header row is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from robocall.contacts.reading import Rows
from robocall.contacts.report import ImportFileError, ImportReport
from robocall.contacts.text import is_blank
from robocall.tabular import Unreadable, cell_text, header_key, match_columns, parse_column_options

FIELDS = ("name", "phone", "category", "district", "commune", "exposure_date", "language")
# Rows looked at for the header row (lists often start with a title block).
HEADER_SEARCH_ROWS = 30

HEADER_ALIASES: dict[str, frozenset[str]] = {
    name: frozenset(header_key(alias) for alias in aliases)
    for name, aliases in {
        "name": (
            "Họ và tên", "Họ tên", "Tên", "Họ và tên đầy đủ", "Họ tên người tiếp xúc",
            "name", "full name", "fullname",
        ),
        "phone": (
            "Số điện thoại", "SĐT", "Số ĐT", "Điện thoại", "ĐT", "Di động", "Số di động",
            "Điện thoại di động", "SĐT liên hệ", "Điện thoại liên hệ", "Số điện thoại liên hệ",
            "phone", "phone number", "mobile", "mobile number", "tel", "telephone",
        ),
        "category": (
            "Phân loại", "Loại", "Đối tượng", "Phân loại đối tượng", "Nhóm", "Diện",
            "category", "type",
        ),
        "district": (
            "Quận/Huyện", "Huyện", "Quận", "Quận/Huyện/Thị xã", "Huyện/Thị xã/Thành phố",
            "Quận/Huyện/Thị xã/Thành phố", "Huyện/Thị xã", "district",
        ),
        "commune": (
            "Xã/Phường", "Xã", "Phường", "Phường/Xã", "Xã/Phường/Thị trấn", "Phường/Xã/Thị trấn",
            "commune", "ward",
        ),
        "exposure_date": (
            "Ngày tiếp xúc", "Ngày tiếp xúc cuối", "Ngày tiếp xúc cuối cùng", "Ngày về",
            "Ngày tiếp xúc/Ngày về", "Ngày về/Ngày tiếp xúc", "Ngày",
            "exposure date", "exposure_date", "exposure", "return date", "date",
        ),
        "language": ("Ngôn ngữ", "language", "lang"),
    }.items()
}


@dataclass(frozen=True)
class ColumnMapping:
    """Headers chosen by hand, per field; ``None`` fields are found automatically."""

    name: str | None = None
    phone: str | None = None
    category: str | None = None
    district: str | None = None
    commune: str | None = None
    exposure_date: str | None = None
    language: str | None = None

    @classmethod
    def from_options(cls, options: Iterable[str]) -> ColumnMapping:
        """From ``FIELD=HEADER`` strings, e.g. ``phone=Điện thoại liên hệ``."""
        return cls(**parse_column_options(options, FIELDS))

    def explicit(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Columns:
    """Where each field is in a row: field -> column indexes (exposure_date may have several)."""

    index: dict[str, list[int]]
    headers: list[str]

    def used(self, name: str) -> bool:
        return name in self.index


def read_header(rows: Rows, mapping: ColumnMapping, report: ImportReport) -> Columns:
    """Consume ``rows`` up to the header row, describe the columns in ``report`` and return them."""
    looked_at = 0
    for number, cells in rows:
        if isinstance(cells, Unreadable) or is_blank(cells):
            continue
        columns = find_columns(cells, mapping)
        if columns is not None:
            _describe_columns(columns, number, report)
            return columns
        looked_at += 1
        if looked_at >= HEADER_SEARCH_ROWS:
            break
    explicit = mapping.phone
    wanted = repr(explicit) if explicit else "'Số điện thoại', 'SĐT', 'Điện thoại' or 'phone'"
    raise ImportFileError(
        f"no phone column found (looked for a header {wanted} in the first {HEADER_SEARCH_ROWS} rows);"
        " name it with --column phone=HEADER"
    )


def find_columns(cells: Sequence[Any], mapping: ColumnMapping) -> Columns | None:
    """The columns, if ``cells`` is the header row (it has the phone column); else ``None``."""
    headers = [cell_text(c) for c in cells]
    explicit = mapping.explicit()
    phone = {header_key(explicit["phone"])} if "phone" in explicit else HEADER_ALIASES["phone"]
    if not any(header_key(h) in phone for h in headers if h):
        return None
    index = match_columns(headers, FIELDS, HEADER_ALIASES, explicit, several={"exposure_date"}, error=ImportFileError)
    return Columns(index=index, headers=headers)


def _describe_columns(columns: Columns, header_row: int, report: ImportReport) -> None:
    report.header_row = header_row
    report.columns = {name: [columns.headers[i] for i in idx] for name, idx in columns.index.items()}
    used = {i for idx in columns.index.values() for i in idx}
    report.ignored_columns = [h for i, h in enumerate(columns.headers) if h and i not in used]
    if header_row != 1:
        report.warnings.append(f"header found on row {header_row}; the rows above it were skipped")
    if not columns.used("category"):
        report.warnings.append("no category column: new contacts get category 'other'")
    if not columns.used("exposure_date"):
        report.warnings.append(
            "no exposure/return date column: new contacts have no monitoring period and won't be called"
        )
    if len(columns.index.get("exposure_date", [])) > 1:
        shown = ", then ".join(repr(h) for h in report.columns["exposure_date"])
        report.warnings.append(f"exposure/return date read from {shown} (the first one filled in)")
