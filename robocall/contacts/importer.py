"""Import contact lists (CSV or XLSX, as CDC staff keep them) into the ``contact`` table.

* The file is streamed: rows are read one at a time and written in batches
  (``batch_size`` rows per transaction), so a list of a million rows needs no
  more memory than a few batches plus one entry per accepted number (to find
  duplicates within the file: ~70 bytes a row, robocall/contacts/seen.py).
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

This module runs the import; each step has its own module: ``reading`` (rows
out of CSV/XLSX), ``columns`` (the header row), ``rows`` (one row to a contact),
``storage`` (the upserts), ``report`` (the outcome) and ``text`` (cell text and
folded keys). The names other code uses are all importable from here.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from robocall.call_policy import CallPolicy
from robocall.contacts.columns import (
    FIELDS,
    HEADER_ALIASES,
    HEADER_SEARCH_ROWS,
    ColumnMapping,
    header_test,
    read_header,
)
from robocall.contacts.dates import DateOrder
from robocall.contacts.dates import date_order as find_date_order
from robocall.contacts.reading import open_rows
from robocall.contacts.report import ImportFileError, ImportReport, RejectedRow
from robocall.contacts.rows import (
    CATEGORY_VALUES,
    LANGUAGE_VALUES,
    LANGUAGES,
    parse_row,
)
from robocall.contacts.seen import SeenNumbers
from robocall.contacts.storage import ContactWriter
from robocall.contacts.text import is_blank
from robocall.tabular import Unreadable
from robocall.text import bilingual

__all__ = [
    "CATEGORY_VALUES",
    "DEFAULT_BATCH_SIZE",
    "FIELDS",
    "HEADER_ALIASES",
    "HEADER_SEARCH_ROWS",
    "LANGUAGES",
    "LANGUAGE_VALUES",
    "ColumnMapping",
    "DateOrder",
    "ImportFileError",
    "ImportReport",
    "RejectedRow",
    "import_contacts",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


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
    date_order: DateOrder | None = None,
) -> ImportReport:
    """Import the contacts in ``path`` (CSV or XLSX) into the database at ``engine``.

    ``today`` is the local date: exposure dates after it are refused. Raises
    :class:`ImportFileError` when the file can't be read at all; bad rows are in
    the report, never raised.  Typed dates are read in the order all the file's rows agree on
    (robocall.contacts.dates), or ``date_order``.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    order = find_date_order(path, sheet, mapping, date_order, today)  # a first reading, of the dates only
    month_first = order == DateOrder.MDY
    report = ImportReport(path=str(path), source_list=source_list)
    if month_first:
        report.warnings.append(bilingual("ngày được đọc theo tháng/ngày/năm", "dates read as month/day/year"))
    with open_rows(path, sheet, report, header_test(mapping)) as rows:
        columns = read_header(rows, mapping, report)
        writer = ContactWriter(engine, columns, source_list, policy, today, report)
        seen = SeenNumbers()  # what grows with the list: ~70 bytes a row (robocall/contacts/seen.py)
        batch: list[dict[str, Any]] = []
        try:
            for number, cells in rows:
                if isinstance(cells, Unreadable):
                    report.read += 1
                    _reject(report, number, f"hàng không đọc được / unreadable row: {cells.message}", "")
                    continue
                if is_blank(cells):
                    report.blank += 1
                    continue
                report.read += 1
                values, raw_phone, problems = parse_row(cells, columns, today, month_first)
                phone = values.get("phone")
                if phone is not None and (duplicate := seen.duplicate(phone)) is not None:
                    problems.add(duplicate)
                if problems.staff:
                    _reject(report, number, "; ".join(problems.staff), raw_phone, "; ".join(problems.logs))
                    continue
                seen.add(values["phone"], number)
                for minor in problems.minor:
                    _note(report, number, minor)
                batch.append(values)
                if len(batch) >= batch_size:
                    writer.write(batch)
                    batch = []
        except UnicodeDecodeError as exc:  # pragma: no cover - the encoding was checked on the whole file
            raise ImportFileError(bilingual(f"không giải mã được {path.name}: {exc}",
                                            f"cannot decode {path.name}: {exc}")) from None
        writer.write(batch)
    log.info(
        "imported %s (source %r): %s", path.name, source_list, report.summary(),
    )
    return report


_MINOR_SHOWN = 20


def _note(report: ImportReport, row: int, text: str) -> None:
    """A row imported with a field left empty: a warning, the first few word for word."""
    report.minor_problems += 1
    if report.minor_problems <= _MINOR_SHOWN:
        vi, _, en = text.partition(" / ")
        report.warnings.append(f"hàng {row}: {vi} / row {row}: {en or vi}")
    elif report.minor_problems == _MINOR_SHOWN + 1:
        report.warnings.append(bilingual("... các hàng sau như vậy không được liệt kê",
                                         "... further such rows are not listed"))


def _reject(report: ImportReport, row: int, reason: str, raw_phone: str, log_reason: str | None = None) -> None:
    rejected = RejectedRow(row=row, reason=reason, raw_phone=raw_phone, log_reason=log_reason or reason)
    report.rejected_rows.append(rejected)
    # Logged from here (logger robocall.contacts.importer), masked: never the raw number.
    log.debug("row %d rejected: %s", row, rejected.log_reason)
