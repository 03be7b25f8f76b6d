"""Streaming the rows out of a contact list (robocall.tabular: CSV in any encoding, or XLSX).

Rows come one at a time as ``(row number as the spreadsheet shows it, cells)``;
a CSV record that can't be parsed comes as a ``robocall.tabular.Unreadable`` instead of
cells, so one bad record doesn't stop the import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robocall.contacts.report import ImportFileError, ImportReport
from robocall.tabular import HeaderTest, numbered, open_table

Rows = Iterator[tuple[int, Any]]
"""``(row number, cells or Unreadable)`` pairs."""


@contextmanager
def open_rows(path: Path, sheet: str | None, report: ImportReport,
              is_header: HeaderTest | None = None) -> Iterator[Rows]:
    """The rows of ``path`` (of a workbook, the sheet named, else the first with a row ``is_header``
    takes); what was found about the file goes into ``report``."""
    with open_table(path, sheet=sheet, error=ImportFileError, is_header=is_header) as table:
        report.file_type = table.file_type
        if table.file_type == "xlsx":
            report.sheet = table.sheet
        else:
            report.encoding, report.delimiter = table.encoding, table.delimiter
        report.warnings.extend(table.warnings)
        known = len(table.warnings)
        yield numbered(table.records)
        # What the reading mended line by line (bad bytes, control characters) is known only now.
        report.warnings.extend(table.warnings[known:])
