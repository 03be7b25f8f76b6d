"""Import contact lists (CSV or XLSX, as CDC staff keep them) into the ``contact`` table.

* The file is streamed: rows are read one at a time and written in batches
  (``batch_size`` rows per transaction), so a list of a million rows needs no
  more memory than a few batches plus one entry per accepted number (to find
  duplicates within the file).
* Columns are found by their headers, in Vietnamese or English, ignoring case,
  accents, punctuation and anything in brackets ("Số điện thoại", "SĐT",
  "so dien thoai", "Phone"...). A title block above the header row is skipped.
  :class:`ColumnMapping` overrides the header of any field.
* Every row that can't be imported is reported with its row number as shown by
  Excel (header = row 1 in a plain file) and the reason; the other rows are
  imported anyway. Blank rows are skipped and counted.
* A contact is identified by its normalised phone number: importing a list
  again updates the contacts (only the fields the file has columns for) and
  never duplicates them. ``opted_out`` is never touched by an import.

The report holds the raw value of bad cells, for the staff who own the list;
logs only ever get masked numbers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import logging
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from robocall.campaigns.policy import CallPolicy
from robocall.models import Category, Contact, utcnow
from robocall.phones import InvalidPhone, mask, normalize

log = logging.getLogger(__name__)

FIELDS = ("name", "phone", "category", "district", "commune", "exposure_date", "language")
DEFAULT_BATCH_SIZE = 1000
# Rows looked at for the header row (lists often start with a title block).
HEADER_SEARCH_ROWS = 30
LANGUAGES = ("vi", "en")


class ImportFileError(Exception):
    """The file can't be imported at all (missing, unreadable, no phone column...)."""


# --- text keys -----------------------------------------------------------------


def fold(text: str) -> str:
    """Lowercase ASCII letters and digits only: ``"Số ĐT (di động)"`` -> ``"sodt"``.

    Bracketed parts are dropped: they hold hints such as "(dd/mm/yyyy)".
    """
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", text.lower())


HEADER_ALIASES: dict[str, frozenset[str]] = {
    name: frozenset(fold(alias) for alias in aliases)
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

CATEGORY_VALUES: dict[str, str] = {
    fold(value): category
    for category, values in {
        Category.F1: ("F1", "F-1", "F 1", "tiếp xúc gần"),
        Category.F2: ("F2", "F-2", "F 2", "tiếp xúc với F1"),
        Category.RETURNEE: (
            "returnee", "returned", "Người về từ vùng dịch", "Về từ vùng dịch", "Người từ vùng dịch về",
            "Từ vùng dịch về", "Người về", "Người trở về", "Trở về", "Người về từ địa phương khác",
            "Người về từ ngoại tỉnh", "Ngoại tỉnh về",
        ),
        Category.OTHER: ("other", "khác"),
    }.items()
    for value in values
}

_VALUE_CACHE_LIMIT = 10_000
_folded_values: dict[str, str] = {}


def _fold_value(text: str) -> str:
    """``fold`` for cell values, remembered: a list repeats the same few categories and languages."""
    folded = _folded_values.get(text)
    if folded is None:
        folded = fold(text)
        if len(_folded_values) < _VALUE_CACHE_LIMIT:
            _folded_values[text] = folded
    return folded


LANGUAGE_VALUES: dict[str, str] = {
    fold(value): code
    for code, values in {
        "vi": ("vi", "vie", "vn", "Tiếng Việt", "Việt", "Việt Nam", "Vietnamese"),
        "en": ("en", "eng", "Tiếng Anh", "Anh", "English"),
    }.items()
    for value in values
}


# --- column mapping ------------------------------------------------------------


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
        chosen: dict[str, str] = {}
        for option in options:
            name, sep, header = option.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or not header.strip():
                raise ValueError(f"expected FIELD=HEADER, got {option!r}")
            if name not in FIELDS:
                raise ValueError(f"unknown field {name!r} (fields: {', '.join(FIELDS)})")
            chosen[name] = header.strip()
        return cls(**chosen)

    def explicit(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class _Columns:
    """Where each field is in a row: field -> column indexes (exposure_date may have several)."""

    index: dict[str, list[int]]
    headers: list[str]

    def used(self, name: str) -> bool:
        return name in self.index


def _find_columns(cells: Sequence[Any], mapping: ColumnMapping) -> _Columns | None:
    """The columns, if ``cells`` is the header row (it has the phone column); else ``None``."""
    headers = [_text(c) for c in cells]
    keys = [fold(h) for h in headers]
    explicit = mapping.explicit()
    phone = _matching(keys, explicit.get("phone"), "phone")
    if not phone:
        return None
    index: dict[str, list[int]] = {}
    taken: set[int] = set()
    for name, header in explicit.items():  # hand-chosen headers first: they win over aliases
        found = _matching(keys, header, name)
        if not found:
            shown = ", ".join(repr(h) for h in headers if h) or "none"
            raise ImportFileError(f"no column {header!r} (for {name}) in the header row; the headers are: {shown}")
        if len(found) > 1:
            raise ImportFileError(f"several columns are headed {header!r} (for {name}): rename one")
        index[name] = found
        taken.update(found)
    for name in FIELDS:
        if name in index:
            continue
        found = [i for i in _matching(keys, None, name) if i not in taken]
        if len(found) > 1 and name != "exposure_date":
            shown = " and ".join(repr(headers[i]) for i in found)
            raise ImportFileError(
                f"several columns could be the {name}: {shown}; choose one with --column {name}=HEADER"
            )
        if found:
            index[name] = found
            taken.update(found)
    return _Columns(index=index, headers=headers)


def _matching(keys: Sequence[str], header: str | None, name: str) -> list[int]:
    wanted = {fold(header)} if header else HEADER_ALIASES[name]
    return [i for i, key in enumerate(keys) if key and key in wanted]


# --- report --------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    row: int
    """Row number as the spreadsheet shows it (header = row 1 in a plain file)."""
    reason: str
    """What is wrong, with the raw values of the bad cells: for the staff who own the list."""
    raw_phone: str = ""
    """The phone cell as written."""
    log_reason: str = ""
    """``reason`` with phone numbers masked: what may go to logs."""

    @property
    def masked_phone(self) -> str:
        return mask(self.raw_phone)

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class ImportReport:
    path: str
    source_list: str
    file_type: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 0
    columns: dict[str, list[str]] = field(default_factory=dict)
    """field -> header(s) it was read from."""
    ignored_columns: list[str] = field(default_factory=list)
    read: int = 0
    """Non-blank rows after the header: inserted + updated + rejected."""
    inserted: int = 0
    updated: int = 0
    blank: int = 0
    monitoring_over: int = 0
    """Imported contacts whose monitoring period ended before today."""
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    def summary(self) -> str:
        text = (
            f"{self.read} rows read: {self.inserted} new, {self.updated} updated, {self.rejected} rejected"
        )
        if self.blank:
            text += f" ({self.blank} blank rows skipped)"
        return text

    def write_csv(self, path: str | Path) -> None:
        """The rejected rows as CSV (row, reason, phone), UTF-8 with BOM so Excel shows Vietnamese."""
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "reason", "phone"])
            for bad in self.rejected_rows:
                writer.writerow([bad.row, bad.reason, bad.raw_phone])


# --- reading files -------------------------------------------------------------


class _Unreadable:
    def __init__(self, message: str) -> None:
        self.message = message


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, or an encrypted .xlsx


@contextmanager
def _open_rows(path: Path, sheet: str | None, report: ImportReport) -> Iterator[Iterator[tuple[int, Any]]]:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic == _OLE_MAGIC:
        raise ImportFileError(
            f"{path.name} is an old Excel .xls file or a password-protected workbook: save it as .xlsx or CSV"
        )
    if magic == _ZIP_MAGIC or path.suffix.lower() in (".xlsx", ".xlsm"):
        report.file_type = "xlsx"
        with _xlsx_rows(path, sheet, report) as rows:
            yield rows
        return
    report.file_type = "csv"
    if sheet:
        report.warnings.append(f"--sheet {sheet!r} ignored: {path.name} is a CSV file")
    with _csv_rows(path, report) as rows:
        yield rows


@contextmanager
def _xlsx_rows(path: Path, sheet: str | None, report: ImportReport) -> Iterator[Iterator[tuple[int, Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    try:
        worksheet = _pick_sheet(workbook, sheet)
        report.sheet = worksheet.title
        # Files written by other tools may declare wrong dimensions: read every row there is.
        worksheet.reset_dimensions()

        def rows() -> Iterator[tuple[int, Any]]:
            for number, cells in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
                yield number, list(cells)

        yield rows()
    finally:
        workbook.close()


def _pick_sheet(workbook: Any, sheet: str | None) -> Any:
    if not workbook.worksheets:
        raise ImportFileError("the workbook has no worksheet")
    if sheet is None:
        return workbook.worksheets[0]
    for worksheet in workbook.worksheets:
        if worksheet.title == sheet:
            return worksheet
    for worksheet in workbook.worksheets:
        if fold(worksheet.title) == fold(sheet):
            return worksheet
    names = ", ".join(repr(ws.title) for ws in workbook.worksheets)
    raise ImportFileError(f"no sheet {sheet!r} in the workbook; its sheets are: {names}")


@contextmanager
def _csv_rows(path: Path, report: ImportReport) -> Iterator[Iterator[tuple[int, Any]]]:
    encoding = _detect_encoding(path, report)
    report.encoding = encoding
    with open(path, encoding=encoding, newline="", errors="strict") as text:
        sample = text.read(64 * 1024)
        text.seek(0)
        delimiter = _sniff_delimiter(sample)
        report.delimiter = delimiter
        reader = csv.reader(text, delimiter=delimiter)

        def rows() -> Iterator[tuple[int, Any]]:
            # One record is one spreadsheet row, even when a quoted cell spans lines.
            number = 0
            while True:
                number += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield number, _Unreadable(str(exc))
                    continue
                yield number, cells

        yield rows()


def _detect_encoding(path: Path, report: ImportReport) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), else a legacy code page."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8-sig"
    for encoding in ("cp1258", "latin-1"):
        if _decodes(path, encoding):
            report.warnings.append(
                f"{path.name} is not UTF-8: read as {encoding}"
                + (" (Windows Vietnamese)" if encoding == "cp1258" else "")
                + "; check that names look right, or save the file as CSV UTF-8"
            )
            return encoding
    raise AssertionError("latin-1 decodes anything")  # pragma: no cover


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes, read in chunks (never all in memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_delimiter(sample: str) -> str:
    """``,``, ``;`` or tab: the one splitting the most lines into the same number (> 1) of cells."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(sample) >= 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # probably cut in the middle
    lines = lines[:100]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        counts = Counter(len(cells) for cells in csv.reader(lines, delimiter=delimiter))
        width, agreeing = max(counts.items(), key=lambda item: (item[1], item[0]), default=(1, 0))
        score = (agreeing, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- cell values ---------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as tidy text: NFC (names typed on a Mac or copied from the web can be NFD), single spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(text.split())


def _raw(value: Any) -> str:
    """A cell as it was written, for the report."""
    return _text(value)


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[T\s]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIALS = range(25569, 73051)  # 1970-01-01 .. 2099-12-31


def _parse_date(value: Any, today: dt.date) -> tuple[dt.date | None, str | None]:
    """(date, None), (None, None) for an empty cell, or (None, problem)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not float(value).is_integer() or int(value) not in _EXCEL_SERIALS:
            return None, "not a date"
        day = _EXCEL_EPOCH + dt.timedelta(days=int(value))
    else:
        text = _text(value)
        try:
            day = _parse_date_text(text)
        except ValueError as exc:
            return None, str(exc)
    if day > today:
        return None, "in the future"
    return day, None


def _parse_date_text(text: str) -> dt.date:
    if match := _YMD.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
        if year < 100:
            year += 2000
        if month > 12 and day <= 12:
            raise ValueError("expected day/month/year")
    elif text.isdigit() and int(text) in _EXCEL_SERIALS:
        return _EXCEL_EPOCH + dt.timedelta(days=int(text))
    else:
        raise ValueError("not a date (expected dd/mm/yyyy)")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError("no such day") from None


# --- rows ----------------------------------------------------------------------


def _cell(cells: Sequence[Any], index: int) -> Any:
    value = cells[index] if index < len(cells) else None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _is_blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@dataclass
class _Problems:
    staff: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def add(self, text: str, log_text: str | None = None) -> None:
        self.staff.append(text)
        self.logs.append(text if log_text is None else log_text)


def _parse_row(
    cells: Sequence[Any], columns: _Columns, policy: CallPolicy, today: dt.date
) -> tuple[dict[str, Any], str, _Problems]:
    """The contact's values, the raw phone cell and the problems found in the row."""
    problems = _Problems()
    values: dict[str, Any] = {}

    raw_phone_cell = _cell(cells, columns.index["phone"][0])
    raw_phone = _raw(raw_phone_cell)
    if raw_phone_cell is None:
        problems.add("missing phone")
    else:
        try:
            phone = normalize(raw_phone_cell)
        except InvalidPhone as exc:
            problems.add(
                f"invalid phone {raw_phone!r}: {exc.reason}", f"invalid phone {mask(raw_phone)!r}: {exc.reason}"
            )
        else:
            values["phone"] = phone.e164
            values["carrier"] = phone.carrier

    for name in ("name", "district", "commune"):
        if columns.used(name):
            values[name] = _text(_cell(cells, columns.index[name][0]))

    if columns.used("category"):
        raw = _cell(cells, columns.index["category"][0])
        if raw is None:
            problems.add("missing category")
        elif (category := CATEGORY_VALUES.get(_fold_value(_text(raw)))) is None:
            problems.add(f"unknown category {_raw(raw)!r}")
        else:
            values["category"] = category

    if columns.used("exposure_date"):
        # Several date columns ("Ngày tiếp xúc", "Ngày về"): the first one filled in.
        raw = next((v for i in columns.index["exposure_date"] if (v := _cell(cells, i)) is not None), None)
        if raw is None:
            problems.add("missing exposure/return date")
        else:
            day, problem = _parse_date(raw, today)
            if problem:
                problems.add(f"bad date {_raw(raw)!r}: {problem}")
            else:
                values["exposure_date"] = day

    if columns.used("language"):
        raw = _cell(cells, columns.index["language"][0])
        if raw is None:
            values["language"] = "vi"
        elif (language := LANGUAGE_VALUES.get(_fold_value(_text(raw)))) is None:
            problems.add(f"unknown language {_raw(raw)!r}")
        else:
            values["language"] = language
    return values, raw_phone, problems


# --- writing -------------------------------------------------------------------

_IN_CHUNK = 500  # numbers per "phone IN (...)" lookup: far below any bind-parameter limit


class _Writer:
    """Upserts batches of contacts; counts new and updated ones."""

    def __init__(self, engine: Engine, columns: _Columns, source_list: str, policy: CallPolicy, today: dt.date,
                 report: ImportReport) -> None:
        self.engine = engine
        self.table: Table = Contact.__table__  # type: ignore[attr-defined]
        self.columns = columns
        self.source_list = source_list
        self.policy = policy
        self.today = today
        self.report = report
        # On update, only what the file says: a list without a district column keeps the districts known.
        self.updated_columns = [
            name for name in ("name", "category", "district", "commune", "exposure_date", "language")
            if columns.used(name)
        ] + ["monitoring_end", "carrier", "source_list", "updated_at"]

    def write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        with self.engine.begin() as connection:
            existing = self._existing(connection, [row["phone"] for row in batch])
            now = utcnow()
            rows = [self._row(values, existing.get(values["phone"]), now) for values in batch]
            connection.execute(self._upsert(connection), rows)
        self.report.updated += len(existing)
        self.report.inserted += len(batch) - len(existing)
        self.report.monitoring_over += sum(
            1 for row in rows if row["monitoring_end"] is not None and row["monitoring_end"] < self.today
        )

    def _existing(self, connection: Connection, phones: list[str]) -> dict[str, tuple[str, dt.date | None]]:
        table = self.table
        found: dict[str, tuple[str, dt.date | None]] = {}
        for start in range(0, len(phones), _IN_CHUNK):
            query = select(table.c.phone, table.c.category, table.c.exposure_date).where(
                table.c.phone.in_(phones[start : start + _IN_CHUNK])
            )
            for phone, category, exposure_date in connection.execute(query):
                found[phone] = (category, exposure_date)
        return found

    def _row(self, values: dict[str, Any], old: tuple[str, dt.date | None] | None, now: dt.datetime) -> dict[str, Any]:
        old_category, old_date = old if old else (Category.OTHER.value, None)
        category = values.get("category", old_category)
        exposure_date = values["exposure_date"] if self.columns.used("exposure_date") else old_date
        return {
            "phone": values["phone"],
            "name": values.get("name", ""),
            "category": str(category),
            "district": values.get("district", ""),
            "commune": values.get("commune", ""),
            "exposure_date": exposure_date,
            "monitoring_end": self.policy.monitoring_end(str(category), exposure_date),
            "language": values.get("language", "vi"),
            "carrier": values.get("carrier", ""),
            "opted_out": False,
            "opted_out_at": None,
            "source_list": self.source_list,
            "created_at": now,
            "updated_at": now,
        }

    def _upsert(self, connection: Connection) -> Any:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            insert = postgresql.insert(self.table)
        elif dialect == "sqlite":
            insert = sqlite.insert(self.table)
        else:  # pragma: no cover - the project runs on these two
            raise ImportFileError(f"contact import does not support {dialect} databases")
        return insert.on_conflict_do_update(
            index_elements=[self.table.c.phone],
            set_={name: insert.excluded[name] for name in self.updated_columns},
        )


# --- the import ----------------------------------------------------------------


def import_contacts(
    engine: Engine,
    path: str | Path,
    mapping: ColumnMapping | None,
    source_list: str,
    policy: CallPolicy,
    today: dt.date,
    *,
    sheet: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportReport:
    """Import the contacts in ``path`` (CSV or XLSX) into the database at ``engine``.

    ``today`` is the local date: exposure dates after it are refused. Raises
    :class:`ImportFileError` when the file can't be read at all; bad rows are in
    the report, never raised.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    report = ImportReport(path=str(path), source_list=source_list)
    with _open_rows(path, sheet, report) as rows:
        columns = _read_header(rows, mapping, report)
        writer = _Writer(engine, columns, source_list, policy, today, report)
        seen: dict[str, int] = {}  # number -> row that imported it
        batch: list[dict[str, Any]] = []
        try:
            for number, cells in rows:
                if isinstance(cells, _Unreadable):
                    report.read += 1
                    _reject(report, number, f"unreadable row: {cells.message}", "")
                    continue
                if _is_blank(cells):
                    report.blank += 1
                    continue
                report.read += 1
                values, raw_phone, problems = _parse_row(cells, columns, policy, today)
                phone = values.get("phone")
                if phone is not None and phone in seen:
                    problems.add(f"duplicate of row {seen[phone]}")
                if problems.staff:
                    _reject(report, number, "; ".join(problems.staff), raw_phone, "; ".join(problems.logs))
                    continue
                seen[phone] = number
                batch.append(values)
                if len(batch) >= batch_size:
                    writer.write(batch)
                    batch = []
        except UnicodeDecodeError as exc:  # pragma: no cover - the encoding was checked on the whole file
            raise ImportFileError(f"cannot decode {path.name}: {exc}") from None
        writer.write(batch)
    log.info(
        "imported %s (source %r): %s", path.name, source_list, report.summary(),
    )
    return report


def _read_header(rows: Iterator[tuple[int, Any]], mapping: ColumnMapping, report: ImportReport) -> _Columns:
    looked_at = 0
    for number, cells in rows:
        if isinstance(cells, _Unreadable) or _is_blank(cells):
            continue
        columns = _find_columns(cells, mapping)
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


def _describe_columns(columns: _Columns, header_row: int, report: ImportReport) -> None:
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


def _reject(report: ImportReport, row: int, reason: str, raw_phone: str, log_reason: str | None = None) -> None:
    rejected = RejectedRow(row=row, reason=reason, raw_phone=raw_phone, log_reason=log_reason or reason)
    report.rejected_rows.append(rejected)
    log.debug("row %d rejected: %s", row, rejected.log_reason)
