"""Tables from files: CSV (any of , ; tab |, UTF-8/16 or a legacy code page) or XLSX, streamed, and
columns found by their headers.

One reader for every list the project takes in: contact lists (robocall/contacts), SMS recipient
lists and carriers' rapid-trace exports (sms/).  What differs between them is a choice here:

- ``strict_utf8=False`` (contact lists, read whole before anything is written): the encoding is
  found by decoding the file (UTF-8 with or without BOM, UTF-16 with BOM, else Windows Vietnamese
  cp1258 or Latin-1, with a warning).
- ``strict_utf8=True`` (lists of millions of rows, sent while they are read): each line is decoded
  on its own, so a line that is not UTF-8 stops the reading naming that line, after the rows
  before it were used.

Records come as lists of cells: text from CSV; from XLSX the cell values (dates, numbers) or, with
``strict_utf8``, their text.  A CSV record that can't be parsed raises ``csv.Error`` from the
iterator; :func:`numbered` turns it into an :class:`Unreadable` row instead.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from robocall.text import fold

DELIMITERS = ",;\t|"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, or an encrypted .xlsx
_SNIFF_CHARS = 64 * 1024
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")


class TableError(ValueError):
    """The file can't be read as a table, or its header lacks what is needed."""


class Unreadable:
    """A CSV record that could not be parsed (kept in its place so one bad record stops nothing)."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class Table:
    records: Iterator[list[Any]]
    file_type: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    warnings: list[str] = field(default_factory=list)


# --- cells and headers ---------------------------------------------------------------------------


def header_key(text: str) -> str:
    """What headers are matched by: ``"Số ĐT (di động)"`` -> ``"sodt"`` (bracketed hints such as
    "(dd/mm/yyyy)" dropped, then :func:`robocall.text.fold`)."""
    return fold(_BRACKETS.sub(" ", text))


def cell_text(value: Any) -> str:
    """A cell as tidy text: NFC (names typed on a Mac or copied from the web can be NFD), single spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(text.split())


def match_columns(headers: Sequence[str], fields: Iterable[str], aliases: Mapping[str, frozenset[str]],
                  chosen: Mapping[str, str], *, several: Iterable[str] = (),
                  error: type[TableError] = TableError) -> dict[str, list[int]]:
    """The columns of each field: the headers `chosen` by hand first, then the known `aliases`
    (header keys); a field in `several` may take more than one column, the others must be unique."""
    keys = [header_key(h) for h in headers]
    index: dict[str, list[int]] = {}
    taken: set[int] = set()
    for name, header in chosen.items():
        wanted = header_key(header)
        found = [i for i, key in enumerate(keys) if key and key == wanted]
        if not found:
            shown = ", ".join(repr(h) for h in headers if h.strip()) or "none"
            raise error(f"no column {header!r} (for {name}) in the header row; the headers are: {shown}")
        if len(found) > 1:
            raise error(f"several columns are headed {header!r} (for {name}): rename one")
        index[name] = found
        taken.update(found)
    many = set(several)
    for name in fields:
        if name in index:
            continue
        found = [i for i, key in enumerate(keys) if key in aliases[name] and i not in taken]
        if len(found) > 1 and name not in many:
            both = " and ".join(repr(headers[i]) for i in found)
            raise error(f"several columns could be the {name}: {both}; choose one with --column {name}=HEADER")
        if found:
            index[name] = found
            taken.update(found)
    return index


def parse_column_options(options: Iterable[str], fields: Sequence[str],
                         error: type[TableError] = TableError) -> dict[str, str]:
    """``FIELD=HEADER`` options (``--column phone=Điện thoại liên hệ``) as {field: header}."""
    chosen: dict[str, str] = {}
    for option in options:
        name, sep, header = option.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep or not header.strip():
            raise error(f"expected FIELD=HEADER, got {option!r}")
        if name not in fields:
            raise error(f"unknown field {name!r} (fields: {', '.join(fields)})")
        chosen[name] = header.strip()
    return chosen


# --- opening -------------------------------------------------------------------------------------


@contextmanager
def open_table(path: Path, *, sheet: str | None = None, strict_utf8: bool = False,
               error: type[TableError] = TableError) -> Iterator[Table]:
    """The records of `path`, told apart by content first (lists often have the wrong extension)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic == _OLE_MAGIC:
        raise error(f"{path.name} is an old Excel .xls file or a password-protected workbook: save it as .xlsx or CSV")
    if magic == _ZIP_MAGIC or path.suffix.lower() in (".xlsx", ".xlsm"):
        with _xlsx(path, sheet, strict_utf8, error) as table:
            yield table
        return
    opened = _csv_utf8(path, error) if strict_utf8 else _csv_detected(path)
    with opened as table:
        if sheet:
            table.warnings.insert(0, f"--sheet {sheet!r} ignored: {path.name} is a CSV file")
        yield table


def numbered(records: Iterator[list[Any]]) -> Iterator[tuple[int, list[Any] | Unreadable]]:
    """``(record number from 1, cells or Unreadable)``: one record is one spreadsheet row, even when
    a quoted cell spans lines, and a record that can't be parsed does not stop the others."""
    number = 0
    while True:
        number += 1
        try:
            cells = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, Unreadable(str(exc))
            continue
        yield number, cells


# --- XLSX ----------------------------------------------------------------------------------------


@contextmanager
def _xlsx(path: Path, sheet: str | None, as_text: bool, error: type[TableError]) -> Iterator[Table]:
    import openpyxl  # only for workbooks: a CSV-only process does not load it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # read-only: the sheet is streamed, never loaded whole.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise error(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    try:
        worksheet = _pick_sheet(workbook, sheet, error)
        # Files written by other tools may declare wrong dimensions: read every row there is.
        worksheet.reset_dimensions()
        values = worksheet.iter_rows(min_row=1, values_only=True)
        records = ([cell_text(v) for v in cells] for cells in values) if as_text else (list(c) for c in values)
        yield Table(records, "xlsx", sheet=worksheet.title)
    finally:
        workbook.close()


def _pick_sheet(workbook: Any, sheet: str | None, error: type[TableError]) -> Any:
    if not workbook.worksheets:
        raise error("the workbook has no worksheet")
    if sheet is None:
        return workbook.worksheets[0]
    for worksheet in workbook.worksheets:
        if worksheet.title == sheet:
            return worksheet
    for worksheet in workbook.worksheets:
        if header_key(worksheet.title) == header_key(sheet):
            return worksheet
    names = ", ".join(repr(ws.title) for ws in workbook.worksheets)
    raise error(f"no sheet {sheet!r} in the workbook; its sheets are: {names}")


# --- CSV -----------------------------------------------------------------------------------------


@contextmanager
def _csv_detected(path: Path) -> Iterator[Table]:
    warnings: list[str] = []
    encoding = _detect_encoding(path, warnings)
    with open(path, encoding=encoding, newline="", errors="strict") as text:
        sample = text.read(_SNIFF_CHARS)
        text.seek(0)
        delimiter = sniff_delimiter(sample)
        yield Table(csv.reader(text, delimiter=delimiter), "csv", encoding, delimiter, warnings=warnings)


@contextmanager
def _csv_utf8(path: Path, error: type[TableError]) -> Iterator[Table]:
    with open(path, "rb") as handle:
        # Only to choose the delimiter: a bad byte in the sample is for the reading to name.
        sample = handle.read(_SNIFF_CHARS).decode("utf-8-sig", errors="replace")
        handle.seek(0)
        delimiter = sniff_delimiter(sample)
        yield Table(csv.reader(_utf8_lines(handle, path, error), delimiter=delimiter), "csv", "utf-8", delimiter)


def _utf8_lines(handle: BinaryIO, path: Path, error: type[TableError]) -> Iterator[str]:
    """The file's lines as text, decoded one by one so that a line that is not UTF-8 is named exactly
    (the rows before it have been read and used)."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise error(f"{path}: line {number} is not UTF-8 text (save the list as \"CSV UTF-8\")") from None


def _detect_encoding(path: Path, warnings: list[str]) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), else a legacy code page."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8-sig"
    for encoding in ("cp1258", "latin-1"):
        if _decodes(path, encoding):
            warnings.append(
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


def sniff_delimiter(sample: str) -> str:
    """``,``, ``;``, tab or ``|``: the one splitting the most lines into the same number (> 1) of cells."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(sample) >= _SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # probably cut in the middle
    lines = lines[:100]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = Counter(len(cells) for cells in csv.reader(lines, delimiter=delimiter))
        width, agreeing = max(counts.items(), key=lambda item: (item[1], item[0]), default=(1, 0))
        score = (agreeing, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- writing: every CSV and XLSX the project hands out goes through here ---------------------------

# A cell a spreadsheet would read as a formula (CSV injection): =, +, -, @, and a tab or carriage
# return before them.  The masked phone itself (+849******03) starts with one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` as a spreadsheet will show it and never run it: text that starts like a formula gets a
    leading apostrophe (OWASP's advice; Excel and LibreOffice hide it and show the text); numbers, dates
    and empty cells are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV export with a BOM (so Excel opens Vietnamese as UTF-8), every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return "\ufeff" + out.getvalue()


def xlsx_bytes(title: str, rows: Iterable[Sequence[Any]], widths: Mapping[str, float] | None = None) -> bytes:
    """A one-sheet workbook, every cell through `safe_cell` (openpyxl stores a text starting with = as a formula)."""
    from openpyxl import Workbook  # only for workbooks, as when reading

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    for column, width in (widths or {}).items():
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
