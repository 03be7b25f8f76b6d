"""The order of a list's typed dates (day/month or month/day), decided from all its rows before any is read.

``08/03/2021`` is 8 March in Vietnam and 3 August where the list came through an American-set
spreadsheet; one row alone can't tell.  A row whose first number is over 12 (``13/03/2021``) says
day/month, one whose second is (``03/13/2021``) says month/day: a file with only the first kind is
day/month, only the second month/day, both is refused.  When no row says, the dates themselves may:
a follow-up list holds recent dates, so an order under which every date falls within the last
:data:`RECENT` days, while under the other some do not, is the file's.  When both readings fit, the
file is refused unless ``--date-order`` says which (when neither does, rows are read day/month and
refused one by one).  Dates written as ISO (``2021-08-03``) or stored as dates by Excel
need no order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from robocall.contacts.columns import ColumnMapping, header_test, read_header
from robocall.contacts.reading import open_rows
from robocall.contacts.report import ImportFileError, ImportReport
from robocall.contacts.text import cell
from robocall.tabular import Unreadable, cell_text

_TWO_NUMBERS_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\s.*)?")
RECENT = dt.timedelta(days=90)


class DateOrder(StrEnum):
    DMY = "dmy"
    MDY = "mdy"


@dataclass
class DateEvidence:
    day_first: int = 0  # rows like 13/03/2021
    day_first_row: int = 0
    month_first: int = 0  # rows like 03/13/2021
    month_first_row: int = 0
    either: int = 0  # rows like 08/03/2021
    either_row: int = 0
    either_dates: Counter[tuple[int, int, int]] = field(default_factory=Counter)  # (first, second, year)

    def add(self, row: int, text: str) -> None:
        match = _TWO_NUMBERS_FIRST.fullmatch(text)
        if match is None:
            return
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            self.day_first += 1
            self.day_first_row = self.day_first_row or row
        elif second > 12 >= first:
            self.month_first += 1
            self.month_first_row = self.month_first_row or row
        elif first != second and first <= 12 and second <= 12:
            self.either += 1
            self.either_row = self.either_row or row
            year = int(match.group(3))
            self.either_dates[(first, second, year + 2000 if year < 100 else year)] += 1

    def all_recent(self, order: DateOrder, today: dt.date) -> bool:
        """Whether every date that could be read either way falls within the last RECENT days in `order`."""
        for first, second, year in self.either_dates:
            day, month = (first, second) if order == DateOrder.DMY else (second, first)
            try:
                date = dt.date(year, month, day)
            except ValueError:
                return False
            if not today - RECENT <= date <= today:
                return False
        return True


def decide(evidence: DateEvidence, forced: DateOrder | None, today: dt.date) -> DateOrder:
    """The order of the file's dates, or :class:`ImportFileError` saying why it can't be told."""
    if forced is not None:
        return forced
    if evidence.day_first and evidence.month_first:
        raise ImportFileError(
            f"ngày tháng lẫn lộn: hàng {evidence.day_first_row} viết ngày/tháng, hàng {evidence.month_first_row}"
            " viết tháng/ngày; sửa tệp hoặc chọn --date-order dmy|mdy"
            f" / mixed dates: row {evidence.day_first_row} is day/month, row {evidence.month_first_row} is"
            " month/day; fix the file or choose --date-order dmy|mdy")
    if evidence.month_first:
        return DateOrder.MDY
    if evidence.day_first or not evidence.either:
        return DateOrder.DMY
    recent = [order for order in DateOrder if evidence.all_recent(order, today)]
    if len(recent) < 2:  # one reading fits; or none does, and the rows are refused one by one as day/month
        return recent[0] if recent else DateOrder.DMY
    raise ImportFileError(
        f"không biết ngày viết theo ngày/tháng hay tháng/ngày ({evidence.either} hàng như hàng"
        f" {evidence.either_row}, không hàng nào có số trên 12): chọn --date-order dmy hoặc mdy"
        f" / the dates could be day/month or month/day ({evidence.either} rows like row {evidence.either_row},"
        " none with a number over 12): choose --date-order dmy or mdy")


def date_order(path: Path, sheet: str | None, mapping: ColumnMapping, forced: DateOrder | None,
               today: dt.date) -> DateOrder:
    """Read the file's date columns once (nothing else is kept) and decide their order."""
    if forced is not None:
        return forced
    report = ImportReport(path=str(path), source_list="")
    evidence = DateEvidence()
    with open_rows(path, sheet, report, header_test(mapping)) as rows:
        columns = read_header(rows, mapping, report)
        if not columns.used("exposure_date"):
            return DateOrder.DMY
        for number, cells in rows:
            if isinstance(cells, Unreadable):
                continue
            for i in columns.index["exposure_date"]:
                value = cell(cells, i)
                if isinstance(value, str):
                    evidence.add(number, cell_text(value))
    return decide(evidence, None, today)
