"""One row of a list to a contact's values, or the reasons it can't be imported.

The phone goes through :func:`robocall.phones.normalize` (the one normalisation
path); category and language are matched folded against Vietnamese/English
words; dates may be typed text (dd/mm/yyyy, yyyy-mm-dd), Excel dates or Excel
serial numbers; names and places are NFC text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from robocall.contacts.columns import Columns
from robocall.contacts.text import cell, fold_value, is_empty
from robocall.models import Category
from robocall.phones import InvalidPhone, PhoneNumber, mask, normalize, numbers_in, type_name_vi
from robocall.tabular import cell_text, header_key
from robocall.text import bilingual

LANGUAGES = ("vi", "en")

CATEGORY_VALUES: dict[str, str] = {
    header_key(value): category
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

LANGUAGE_VALUES: dict[str, str] = {
    header_key(value): code
    for code, values in {
        "vi": ("vi", "vie", "vn", "Tiếng Việt", "Việt", "Việt Nam", "Vietnamese"),
        "en": ("en", "eng", "Tiếng Anh", "Anh", "English"),
    }.items()
    for value in values
}


@dataclass
class Problems:
    """What is wrong with a row: for the staff (raw values) and for logs (phone numbers masked), each
    problem Vietnamese then English (robocall.text.bilingual)."""

    staff: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)
    """What was left empty without refusing the row (an unreadable birth year): warnings."""

    def add(self, text: str, log_text: str | None = None) -> None:
        self.staff.append(text)
        self.logs.append(text if log_text is None else log_text)


def parse_row(cells: Sequence[Any], columns: Columns, today: dt.date, month_first: bool = False
              ) -> tuple[dict[str, Any], str, Problems]:
    """The contact's values, the raw phone cell and the problems found in the row."""
    problems = Problems()
    values: dict[str, Any] = {}

    raw_phone_cell = cell(cells, columns.index["phone"][0])
    raw_phone = cell_text(raw_phone_cell)
    if raw_phone_cell is None:
        problems.add(bilingual("thiếu số điện thoại", "missing phone"))
    else:
        # "0912345678 (Zalo)", "0912.345.678 / 0987 654 321": the first number, the second as alt_phone.
        first, *others = numbers_in(raw_phone_cell)
        try:
            phone = callable_number(first)
        except InvalidPhone as exc:
            problems.add(
                bilingual(f"số điện thoại {raw_phone!r} không hợp lệ: {exc.vi}",
                          f"invalid phone {raw_phone!r}: {exc.en}"),
                bilingual(f"số điện thoại {mask(raw_phone)!r} không hợp lệ: {exc.vi}",
                          f"invalid phone {mask(raw_phone)!r}: {exc.en}"),
            )
        else:
            values["phone"] = phone.e164
            values["carrier"] = phone.carrier
            values["phone_kind"] = phone_kind(phone)
            values["alt_phone"] = ""
            if others:
                try:
                    alt = callable_number(others[0])
                except InvalidPhone as exc:
                    problems.minor.append(bilingual(f"số thứ hai không dùng được ({exc.vi}), bỏ qua",
                                                    f"second number unusable ({exc.en}), left out"))
                else:
                    values["alt_phone"] = alt.e164 if alt.e164 != phone.e164 else ""
                if len(others) > 1:
                    problems.minor.append(bilingual(f"chỉ giữ hai số đầu trong {len(others) + 1} số",
                                                    f"only the first two of {len(others) + 1} numbers kept"))

    for name in ("name", "district", "commune", "notes"):
        if columns.used(name):
            values[name] = cell_text(cell(cells, columns.index[name][0]))
    if columns.used("address"):  # "Số nhà", "Thôn/Xóm"...: the parts joined
        values["address"] = ", ".join(t for i in columns.index["address"] if (t := cell_text(cell(cells, i))))
    if columns.used("birth_year"):
        raw = cell(cells, columns.index["birth_year"][0])
        values["birth_year"] = year = parse_birth_year(raw, today)
        if year is None and raw is not None:
            problems.minor.append(bilingual(f"năm sinh {cell_text(raw)!r} không đọc được, để trống",
                                            f"birth year {cell_text(raw)!r} unreadable, left empty"))

    if columns.used("category"):
        raw = cell(cells, columns.index["category"][0])
        if raw is None:
            problems.add(bilingual("thiếu phân loại", "missing category"))
        elif (category := _known(raw, CATEGORY_VALUES)) is None:
            problems.add(bilingual(f"không nhận ra phân loại {cell_text(raw)!r}", f"unknown category {cell_text(raw)!r}"))
        else:
            values["category"] = category

    if columns.used("exposure_date"):
        # Several date columns ("Ngày tiếp xúc", "Ngày về"): the first one filled in.
        raw = next((v for i in columns.index["exposure_date"] if (v := cell(cells, i)) is not None), None)
        if raw is None:
            problems.add(bilingual("thiếu ngày tiếp xúc/ngày về", "missing exposure/return date"))
        else:
            day, problem = parse_date(raw, today, month_first)
            if problem:
                vi, en = problem
                problems.add(bilingual(f"ngày {cell_text(raw)!r} không hợp lệ: {vi}", f"bad date {cell_text(raw)!r}: {en}"))
            else:
                values["exposure_date"] = day

    if columns.used("language"):
        raw = cell(cells, columns.index["language"][0])
        if raw is None:
            values["language"] = "vi"
        elif (language := _known(raw, LANGUAGE_VALUES)) is None:
            problems.add(bilingual(f"không nhận ra ngôn ngữ {cell_text(raw)!r}", f"unknown language {cell_text(raw)!r}"))
        else:
            values["language"] = language
    return values, raw_phone, problems


def _known(raw: Any, table: dict[str, str]) -> str | None:
    """The code a cell stands for in ``table`` (keys folded), or ``None``."""
    return table.get(fold_value(cell_text(raw)))


# --- phones ----------------------------------------------------------------------

# Numbers a robot call can reach; service numbers (toll-free, premium...) are refused.
_CALLABLE_TYPES = ("mobile", "landline", "landline or mobile")


def callable_number(raw: Any) -> PhoneNumber:
    """A number the dialer can call: a mobile, a landline, or a foreign number (flagged by phone_kind)."""
    phone = normalize(raw, require_mobile=False, allow_foreign=True)
    if phone.type not in _CALLABLE_TYPES:
        raise InvalidPhone(f"số {type_name_vi(phone.type)}, cần số di động hoặc cố định",
                           f"{phone.type} number, a mobile or landline number is needed")
    return phone


def phone_kind(phone: PhoneNumber) -> str:
    """``foreign`` (called only where international calls are allowed), ``landline`` (calls, no SMS) or
    ``mobile``."""
    if not phone.e164.startswith("+84"):
        return "foreign"
    return "landline" if phone.type == "landline" else "mobile"


# --- dates -----------------------------------------------------------------------

_EARLIEST_BIRTH_YEAR = 1900


def parse_birth_year(value: Any, today: dt.date) -> int | None:
    """``1985``, ``1985.0``, a date or ``dd/mm/yyyy`` -> 1985; ``None`` when empty or not a plausible year."""
    if is_empty(value):
        return None
    year: int | None = None
    if isinstance(value, dt.date):
        year = value.year
    elif isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        year = int(value)
    else:
        text = cell_text(value)
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
        elif match := (_DMY.fullmatch(text) or _YMD.fullmatch(text)):
            groups = match.groups()
            year = int(groups[2] if _DMY.fullmatch(text) else groups[0])
    if year is None or not _EARLIEST_BIRTH_YEAR <= year <= today.year:
        return None
    return year


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[T\s]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIALS = range(25569, 73051)  # 1970-01-01 .. 2099-12-31
# No exposure or return date of this epidemic's work is earlier: an earlier one is a typing slip
# (1/1/1900 is what an empty Excel date cell shows).
EARLIEST_DATE = dt.date(2019, 1, 1)


# What is wrong with a date: (Vietnamese, English).
DateProblem = tuple[str, str]


def parse_date(value: Any, today: dt.date, month_first: bool = False
               ) -> tuple[dt.date | None, DateProblem | None]:
    """(date, None), (None, None) for an empty cell, or (None, problem).  Typed dates are day/month
    unless the file's dates were found to be month/day (robocall.contacts.dates)."""
    if is_empty(value):
        return None, None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not float(value).is_integer() or int(value) not in _EXCEL_SERIALS:
            return None, ("không phải ngày", "not a date")
        day = _EXCEL_EPOCH + dt.timedelta(days=int(value))
    else:
        text = cell_text(value)
        try:
            day = _parse_date_text(text, month_first)
        except _BadDate as exc:
            return None, (exc.vi, exc.en)
    if day > today:
        return None, ("ở tương lai", "in the future")
    if day < EARLIEST_DATE:
        return None, (f"trước {EARLIEST_DATE:%d/%m/%Y}, không hợp lý", f"before {EARLIEST_DATE:%d/%m/%Y}, not plausible")
    return day, None


class _BadDate(ValueError):
    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en


def _parse_date_text(text: str, month_first: bool = False) -> dt.date:
    if match := _YMD.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
        if month_first:
            day, month = month, day
        if year < 100:
            year += 2000
        if month > 12 and day <= 12:
            if month_first:
                raise _BadDate("cần viết tháng/ngày/năm", "expected month/day/year")
            raise _BadDate("cần viết ngày/tháng/năm", "expected day/month/year")
    elif text.isdigit() and int(text) in _EXCEL_SERIALS:
        return _EXCEL_EPOCH + dt.timedelta(days=int(text))
    else:
        raise _BadDate("không phải ngày (cần dạng dd/mm/yyyy)", "not a date (expected dd/mm/yyyy)")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _BadDate("không có ngày này", "no such day") from None
