"""Finding the header row and the column of each field: Vietnamese or English headers, or ``--column`` overrides.

Headers are compared folded (case, accents, punctuation and anything in brackets ignored), first
exactly against the known headers, then fuzzily (rapidfuzz: a header as staff misspell it, "Phân laoi",
"So dien thoai lien lac"), with a confidence in percent that the CLI shows.  A field matched only at low
confidence is not used: when it is one the import needs (phone, category, date) the import stops and asks
for ``--column``, so that a misspelled "Phân loại" never silently turns every F1 into ``other``.  A title
block above the header row is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from rapidfuzz import fuzz

from robocall.contacts.reading import Rows
from robocall.contacts.report import ImportFileError, ImportReport
from robocall.contacts.text import is_blank
from robocall.tabular import Unreadable, cell_text, chosen_columns, header_key, parse_column_options
from robocall.text import bilingual

FIELDS = ("name", "phone", "category", "district", "commune", "exposure_date", "language",
          "birth_year", "address", "notes")
# Fields that may take several columns: the first date filled in; the address parts joined.
SEVERAL = frozenset({"exposure_date", "address"})
# Fields whose column, when only guessed, stops the import: without them contacts are not called right.
NEEDED = ("phone", "category", "exposure_date")
# Confidence (rapidfuzz ratio of folded headers, %): from SURE a column is used; from GUESS up it is
# reported as a guess and not used.
SURE = 88
GUESS = 70
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
            "Số ĐT liên lạc", "Điện thoại liên lạc", "SĐT liên lạc", "Số điện thoại liên lạc", "Số ĐT liên hệ",
            "Số điện thoại 1", "SĐT 1", "SĐT/Zalo", "Số điện thoại/Zalo", "Zalo/SĐT",
            "phone", "phone number", "mobile", "mobile number", "tel", "telephone",
        ),
        "category": (
            "Phân loại", "Loại", "Đối tượng", "Phân loại đối tượng", "Nhóm", "Diện", "Loại đối tượng",
            "Nhóm đối tượng", "category", "type",
        ),
        "district": (
            "Quận/Huyện", "Huyện", "Quận", "Quận/Huyện/Thị xã", "Huyện/Thị xã/Thành phố",
            "Quận/Huyện/Thị xã/Thành phố", "Huyện/Thị xã", "Huyện/TP", "Quận/Huyện/TP", "Huyện/Thành phố",
            "Huyện/TX/TP", "district",
        ),
        "commune": (
            "Xã/Phường", "Xã", "Phường", "Phường/Xã", "Xã/Phường/Thị trấn", "Phường/Xã/Thị trấn",
            "Phường/Xã/TT", "Xã/Phường/TT", "commune", "ward",
        ),
        "exposure_date": (
            "Ngày tiếp xúc", "Ngày tiếp xúc cuối", "Ngày tiếp xúc cuối cùng", "Ngày về",
            "Ngày tiếp xúc/Ngày về", "Ngày về/Ngày tiếp xúc", "Ngày", "Ngày tiếp xúc gần nhất",
            "exposure date", "exposure_date", "exposure", "return date", "date",
        ),
        "language": ("Ngôn ngữ", "language", "lang"),
        "birth_year": ("Năm sinh", "Ngày sinh", "Ngày tháng năm sinh", "NS", "birth year", "year of birth",
                       "date of birth", "birth_year"),
        "address": ("Địa chỉ", "Số nhà", "Địa chỉ nơi ở", "Nơi ở", "Nơi ở hiện tại", "Địa chỉ thường trú",
                    "Thôn/Xóm", "Thôn/Tổ", "Tổ/Thôn", "Tổ dân phố", "Đường", "Số nhà/Đường", "address"),
        "notes": ("Ghi chú", "Ghi chú khác", "notes", "note", "remarks"),
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
    birth_year: str | None = None
    address: str | None = None
    notes: str | None = None

    @classmethod
    def from_options(cls, options: Iterable[str]) -> ColumnMapping:
        """From ``FIELD=HEADER`` strings, e.g. ``phone=Điện thoại liên hệ``."""
        return cls(**parse_column_options(options, FIELDS))

    def explicit(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Columns:
    """Where each field is in a row: field -> column indexes (exposure_date and address may have several),
    with the confidence of each match (100: exact or chosen with --column)."""

    index: dict[str, list[int]]
    headers: list[str]
    confidence: dict[str, int] = field(default_factory=dict)
    guesses: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Fields only guessed at low confidence (not used): field -> (header, confidence)."""

    def used(self, name: str) -> bool:
        return name in self.index


def read_header(rows: Rows, mapping: ColumnMapping, report: ImportReport) -> Columns:
    """Consume ``rows`` up to the header row, describe the columns in ``report`` and return them."""
    looked_at = 0
    guessed: tuple[Columns, int] | None = None  # a row whose phone column is only guessed
    for number, cells in rows:
        if isinstance(cells, Unreadable) or is_blank(cells):
            continue
        columns = find_columns(cells, mapping)
        if columns is not None:
            if columns.used("phone"):
                _describe_columns(columns, number, report)
                _stop_on_guesses(columns)
                return columns
            guessed = guessed or (columns, number)  # a row further down may have a sure one ("Liên hệ" / "SĐT")
        looked_at += 1
        if looked_at >= HEADER_SEARCH_ROWS:
            break
    if guessed is not None:
        _describe_columns(*guessed, report)
        _stop_on_guesses(guessed[0])
    explicit = mapping.phone
    wanted = repr(explicit) if explicit else "'Số điện thoại', 'SĐT', 'Điện thoại' or 'phone'"
    raise ImportFileError(
        f"không tìm thấy cột số điện thoại (tìm tiêu đề {wanted} trong {HEADER_SEARCH_ROWS} hàng đầu); chỉ rõ"
        f" bằng --column phone=TIÊU_ĐỀ / no phone column found (looked for a header {wanted} in the first"
        f" {HEADER_SEARCH_ROWS} rows); name it with --column phone=HEADER"
    )


def header_test(mapping: ColumnMapping) -> Callable[[list[Any]], bool]:
    """Whether a row is a header row of this import (chooses the sheet of a workbook)."""
    def is_header(cells: list[Any]) -> bool:
        try:
            return find_columns(cells, mapping) is not None
        except ImportFileError:  # a header, though one the import will refuse (and say why)
            return True
    return is_header


def find_columns(cells: Sequence[Any], mapping: ColumnMapping) -> Columns | None:
    """The columns, if ``cells`` is the header row (a header is, or may be, the phone's); else ``None``."""
    headers = [cell_text(c) for c in cells]
    keys = [header_key(h) for h in headers]
    explicit = mapping.explicit()
    if "phone" in explicit:
        if header_key(explicit["phone"]) not in keys:
            return None
    elif not any(_score(key, "phone") >= GUESS for key in keys if key):
        return None
    index = chosen_columns(headers, keys, explicit, ImportFileError)
    confidence = {name: 100 for name in index}
    taken = {i for found in index.values() for i in found}
    # Every (header, field) pair by how sure the match is, surest first: a header goes to one field.
    pairs = sorted(((_score(key, name), i, name) for i, key in enumerate(keys) if key and i not in taken
                    for name in FIELDS if name not in explicit), key=lambda p: (-p[0], p[1]))
    guesses: dict[str, tuple[str, int]] = {}
    for score, i, name in pairs:
        if score < GUESS or i in taken:
            continue
        if score < SURE:
            if name not in index and name not in guesses:
                guesses[name] = (headers[i], score)
            continue
        if name in index:
            if name not in SEVERAL:
                if score == 100 and confidence[name] == 100:
                    shown = [repr(headers[j]) for j in (*index[name], i)]
                    raise ImportFileError(bilingual(
                        f"nhiều cột có thể là {name}: {' và '.join(shown)}; chọn một bằng --column {name}=TIÊU_ĐỀ",
                        f"several columns could be the {name}: {' and '.join(shown)}; choose one with"
                        f" --column {name}=HEADER"))
                continue
            index[name].append(i)
        else:
            index[name] = [i]
        confidence[name] = min(confidence.get(name, 100), score)
        taken.add(i)
    for name in list(guesses):
        if name in index:
            del guesses[name]
    for name in index:
        index[name].sort()
    return Columns(index=index, headers=headers, confidence=confidence, guesses=guesses)


def _score(key: str, name: str) -> int:
    """How sure (0-100) that a folded header is the field's: 100 for a known header, else the best
    rapidfuzz ratio against them."""
    aliases = HEADER_ALIASES[name]
    if key in aliases:
        return 100
    return round(max(fuzz.ratio(key, alias) for alias in aliases))


def _stop_on_guesses(columns: Columns) -> None:
    for name in NEEDED:
        if name in columns.guesses:
            header, score = columns.guesses[name]
            raise ImportFileError(
                f"cột {header!r} có lẽ là {name} (độ tin cậy {score}%), chưa đủ chắc để dùng: xác nhận bằng"
                f" --column {name}=\"{header}\" / column {header!r} may be the {name} ({score}% sure), too unsure"
                f" to use: confirm with --column {name}=\"{header}\"")


def _describe_columns(columns: Columns, header_row: int, report: ImportReport) -> None:
    report.header_row = header_row
    report.columns = {name: [columns.headers[i] for i in idx] for name, idx in columns.index.items()}
    report.confidence = dict(columns.confidence)
    used = {i for idx in columns.index.values() for i in idx}
    report.ignored_columns = [h for i, h in enumerate(columns.headers) if h and i not in used]
    if header_row != 1:
        report.warnings.append(f"tiêu đề ở hàng {header_row}, các hàng trên bị bỏ qua"
                               f" / header found on row {header_row}; the rows above it were skipped")
    if not columns.used("category"):
        report.warnings.append("không có cột phân loại: liên hệ mới được xếp 'other'"
                               " / no category column: new contacts get category 'other'")
    if not columns.used("exposure_date"):
        report.warnings.append(
            "không có cột ngày tiếp xúc/ngày về: liên hệ mới không có thời gian theo dõi và sẽ không được gọi"
            " / no exposure/return date column: new contacts have no monitoring period and won't be called"
        )
    if len(columns.index.get("exposure_date", [])) > 1:
        shown = ", then ".join(repr(h) for h in report.columns["exposure_date"])
        report.warnings.append(f"ngày tiếp xúc/ngày về đọc từ {shown} (ô đầu tiên có giá trị)"
                               f" / exposure/return date read from {shown} (the first one filled in)")
