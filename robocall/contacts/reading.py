"""Streaming the rows out of a contact list: CSV (any delimiter, UTF-8/16 or a legacy code page) or XLSX.

Rows come one at a time as ``(row number as the spreadsheet shows it, cells)``;
a CSV record that can't be parsed comes as an :class:`Unreadable` instead of
cells, so one bad record doesn't stop the import.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robocall.contacts.report import ImportFileError, ImportReport
from robocall.contacts.text import fold

Rows = Iterator[tuple[int, Any]]
"""``(row number, cells or Unreadable)`` pairs."""


class Unreadable:
    def __init__(self, message: str) -> None:
        self.message = message


_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, or an encrypted .xlsx
_SNIFF_CHARS = 64 * 1024


@contextmanager
def open_rows(path: Path, sheet: str | None, report: ImportReport) -> Iterator[Rows]:
    """The rows of ``path``, told apart by content first (lists often have the wrong extension)."""
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


# --- XLSX ------------------------------------------------------------------------


@contextmanager
def _xlsx_rows(path: Path, sheet: str | None, report: ImportReport) -> Iterator[Rows]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # read-only: the sheet is streamed, never loaded whole.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    try:
        worksheet = _pick_sheet(workbook, sheet)
        report.sheet = worksheet.title
        # Files written by other tools may declare wrong dimensions: read every row there is.
        worksheet.reset_dimensions()

        def rows() -> Rows:
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


# --- CSV -------------------------------------------------------------------------


@contextmanager
def _csv_rows(path: Path, report: ImportReport) -> Iterator[Rows]:
    encoding = _detect_encoding(path, report)
    report.encoding = encoding
    with open(path, encoding=encoding, newline="", errors="strict") as text:
        sample = text.read(_SNIFF_CHARS)
        text.seek(0)
        delimiter = _sniff_delimiter(sample)
        report.delimiter = delimiter
        reader = csv.reader(text, delimiter=delimiter)

        def rows() -> Rows:
            # One record is one spreadsheet row, even when a quoted cell spans lines.
            number = 0
            while True:
                number += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield number, Unreadable(str(exc))
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
    if len(sample) >= _SNIFF_CHARS and len(lines) > 1:
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
