"""Tables from files: CSV (any of , ; tab |, UTF-8/16 or a legacy code page) or XLSX, streamed, and
columns found by their headers.

One reader for every list the project takes in: contact lists (robocall/contacts), SMS recipient
lists and carriers' rapid-trace exports (sms/).  A CSV file is read line by line:

- the encoding is decided on the evidence of the whole file (:func:`_choose_encoding`): a few lines
  that are not UTF-8 in a UTF-8 file are read with the bad bytes replaced and named by line, the rest
  as they are; only a file mostly in a legacy code page is read as cp1258 (or Latin-1), with a warning;
- control characters (NUL...) are removed, naming the line;
- a quote opened and never closed swallows no neighbour: that line is an :class:`Unreadable` record
  and the next lines are read on their own (:func:`_records`).

Records come as lists of cells (text from CSV; from XLSX the cell values, or with ``as_text`` their
text) or as :class:`Unreadable` in the place of a record that can't be read, so one bad record stops
nothing.  Line-level warnings are appended to ``Table.warnings`` while the records are read.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from robocall.text import bilingual, fold

DELIMITERS = ",;\t|"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, or an encrypted .xlsx
_SNIFF_CHARS = 64 * 1024
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")


class TableError(ValueError):
    """The file can't be read as a table, or its header lacks what is needed."""


class Unreadable:
    """A CSV record that could not be parsed (kept in its place so one bad record stops nothing);
    ``message`` says why (the same for every such record), ``line`` is where it starts in the file."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.message = message
        self.line = line


@dataclass
class Table:
    records: Iterator[list[Any] | Unreadable]
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
    if _CONTROL.search(text):  # a NUL is refused by PostgreSQL; the others are copy-paste debris
        text = _CONTROL.sub("", text)
    return " ".join(text.split())


def chosen_columns(headers: Sequence[str], keys: Sequence[str], chosen: Mapping[str, str],
                   error: type[TableError] = TableError) -> dict[str, list[int]]:
    """The column of each field whose header was chosen by hand (`--column field=HEADER`); `keys` are
    the headers' `header_key`s.  A header that is not there, or heads several columns, is an error."""
    index: dict[str, list[int]] = {}
    for name, header in chosen.items():
        wanted = header_key(header)
        found = [i for i, key in enumerate(keys) if key and key == wanted]
        if not found:
            shown = ", ".join(repr(h) for h in headers if h.strip()) or "none"
            raise error(bilingual(f"không có cột {header!r} (cho {name}) trong dòng tiêu đề; các cột: {shown}",
                                  f"no column {header!r} (for {name}) in the header row; the headers are: {shown}"))
        if len(found) > 1:
            raise error(bilingual(f"nhiều cột cùng tiêu đề {header!r} (cho {name}): hãy đổi tên một cột",
                                  f"several columns are headed {header!r} (for {name}): rename one"))
        index[name] = found
    return index


def match_columns(headers: Sequence[str], fields: Iterable[str], aliases: Mapping[str, frozenset[str]],
                  chosen: Mapping[str, str], *, several: Iterable[str] = (),
                  error: type[TableError] = TableError) -> dict[str, list[int]]:
    """The columns of each field: the headers `chosen` by hand first, then the known `aliases`
    (header keys); a field in `several` may take more than one column, the others must be unique."""
    keys = [header_key(h) for h in headers]
    index = chosen_columns(headers, keys, chosen, error)
    taken = {i for found in index.values() for i in found}
    many = set(several)
    for name in fields:
        if name in index:
            continue
        found = [i for i, key in enumerate(keys) if key in aliases[name] and i not in taken]
        if len(found) > 1 and name not in many:
            shown = [repr(headers[i]) for i in found]
            raise error(bilingual(
                f"nhiều cột có thể là {name}: {' và '.join(shown)}; chọn một bằng --column {name}=TIÊU_ĐỀ",
                f"several columns could be the {name}: {' and '.join(shown)}; choose one with --column {name}=HEADER"))
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
            raise error(bilingual(f"cần dạng TRƯỜNG=TIÊU_ĐỀ, nhận được {option!r}",
                                  f"expected FIELD=HEADER, got {option!r}"))
        if name not in fields:
            raise error(bilingual(f"không có trường {name!r} (các trường: {', '.join(fields)})",
                                  f"unknown field {name!r} (fields: {', '.join(fields)})"))
        chosen[name] = header.strip()
    return chosen


# --- opening -------------------------------------------------------------------------------------


@contextmanager
def open_table(path: Path, *, sheet: str | None = None, as_text: bool = False,
               error: type[TableError] = TableError, is_header: HeaderTest | None = None) -> Iterator[Table]:
    """The records of `path`, told apart by content first (lists often have the wrong extension).  Of a
    workbook, the sheet named, else the first sheet with a row that `is_header` takes (said in a warning
    when it is not the first)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise error(f"không đọc được {path} / cannot read {path}: {exc.strerror or exc}") from None
    if magic == _OLE_MAGIC:
        raise error(f"{path.name} là tệp Excel .xls cũ hoặc có mật khẩu: hãy lưu thành .xlsx hoặc CSV"
                    f" / {path.name} is an old Excel .xls file or a password-protected workbook: save it as .xlsx or CSV")
    if magic == _ZIP_MAGIC or path.suffix.lower() in (".xlsx", ".xlsm"):
        with _xlsx(path, sheet, as_text, error, is_header) as table:
            yield table
        return
    with _csv(path, error) as table:
        if sheet:
            table.warnings.insert(0, f"--sheet {sheet!r} bị bỏ qua: {path.name} là tệp CSV"
                                     f" / --sheet {sheet!r} ignored: {path.name} is a CSV file")
        yield table


def numbered(records: Iterator[list[Any] | Unreadable]) -> Iterator[tuple[int, list[Any] | Unreadable]]:
    """``(record number from 1, cells or Unreadable)``: one record is one spreadsheet row, even when
    a quoted cell spans lines."""
    return enumerate(records, start=1)


# --- XLSX ----------------------------------------------------------------------------------------


# A workbook up to this size is loaded whole, which shows its merged cells and formulas; a larger one
# is streamed (read-only mode knows neither: merged cells then read empty but for their first cell).
_XLSX_WHOLE_BYTES = 5 * 1024 * 1024
# Rows of a sheet looked at for its header row when choosing the sheet.
_HEADER_ROWS = 30
# Cells a merged range may fill (a whole merged column must not blow up memory).
_MERGED_CELLS_LIMIT = 1_000_000

HeaderTest = Callable[[list[Any]], bool]
"""Whether a row is the header a reader needs (e.g. it has a phone column): chooses the sheet."""


@contextmanager
def _xlsx(path: Path, sheet: str | None, as_text: bool, error: type[TableError],
          is_header: HeaderTest | None) -> Iterator[Table]:
    import openpyxl  # only for workbooks: a CSV-only process does not load it

    whole = path.stat().st_size <= _XLSX_WHOLE_BYTES
    workbook = _load_workbook(openpyxl, path, error, read_only=not whole, data_only=True)
    try:
        warnings: list[str] = []
        worksheet = _pick_sheet(workbook, sheet, error, is_header, warnings)
        if whole:
            fill = _merged_values(worksheet)
            warnings.extend(_formulas_without_values(openpyxl, path, worksheet, error))
        else:
            # Files written by other tools may declare wrong dimensions: read every row there is.
            worksheet.reset_dimensions()
            fill = {}
        values = worksheet.iter_rows(min_row=1, values_only=True)
        rows = _with_merged(values, fill) if fill else (list(c) for c in values)
        records = ([cell_text(v) for v in cells] for cells in rows) if as_text else rows
        yield Table(_damage_named(records, path, error), "xlsx", sheet=worksheet.title, warnings=warnings)
    finally:
        workbook.close()


def _load_workbook(openpyxl: Any, path: Path, error: type[TableError], **options: bool) -> Any:
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, **options)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise error(f"không đọc được {path.name} như một bảng tính Excel / cannot read {path.name} as an Excel"
                    f" workbook: {exc}") from None
    except Exception as exc:  # a damaged workbook can fail anywhere in openpyxl's XML reading
        raise error(f"không đọc được {path.name} như một bảng tính Excel / cannot read {path.name} as an Excel"
                    f" workbook: {type(exc).__name__}: {exc}") from None


def _merged_values(worksheet: Any) -> dict[tuple[int, int], Any]:
    """(row, column) from 1 -> the value a merged range shows there (its first cell's): a category merged
    over the rows of a group, a header merged over two header rows, belong to every row they cover."""
    fill: dict[tuple[int, int], Any] = {}
    for merged in worksheet.merged_cells.ranges:
        value = worksheet.cell(merged.min_row, merged.min_col).value
        if value is None:
            continue
        for row in range(merged.min_row, merged.max_row + 1):
            for column in range(merged.min_col, merged.max_col + 1):
                if len(fill) >= _MERGED_CELLS_LIMIT:
                    return fill
                fill[(row, column)] = value
    return fill


def _with_merged(values: Iterator[tuple[Any, ...]], fill: dict[tuple[int, int], Any]) -> Iterator[list[Any]]:
    for row, cells in enumerate(values, start=1):
        out = list(cells)
        for column, value in enumerate(out, start=1):
            if value is None and (row, column) in fill:
                out[column - 1] = fill[(row, column)]
        yield out


def _formulas_without_values(openpyxl: Any, path: Path, values: Any, error: type[TableError]) -> list[str]:
    """A warning when cells hold formulas whose value was never saved (a file written by a program, not
    by Excel): they read as empty."""
    formulas = _load_workbook(openpyxl, path, error, data_only=False)
    try:
        missing = [cell.coordinate for row in formulas[values.title].iter_rows() for cell in row
                   if cell.data_type == "f" and values[cell.coordinate].value is None]
    finally:
        formulas.close()
    if not missing:
        return []
    first = ", ".join(missing[:5])
    return [f"{len(missing)} ô là công thức chưa có giá trị lưu sẵn ({first}...), đọc như ô trống: mở tệp bằng Excel"
            f" hoặc LibreOffice rồi lưu lại / {len(missing)} cells are formulas with no saved value ({first}...),"
            " read as empty: open the file in Excel or LibreOffice and save it again"]


def _damage_named(records: Iterator[list[Any]], path: Path, error: type[TableError]) -> Iterator[list[Any]]:
    """The rows; a workbook damaged further in stops with its name, the rows before it used."""
    number = 0
    try:
        for number, cells in enumerate(records, start=1):  # noqa: B007 - the number is for the error
            yield cells
    except Exception as exc:  # openpyxl's XML reading raises many kinds
        raise error(f"{path.name}: bảng tính hỏng sau hàng {number} / the workbook is damaged after row"
                    f" {number}: {type(exc).__name__}") from None


def _pick_sheet(workbook: Any, sheet: str | None, error: type[TableError], is_header: HeaderTest | None,
                warnings: list[str]) -> Any:
    if not workbook.worksheets:
        raise error("bảng tính không có trang nào / the workbook has no worksheet")
    if sheet is None:
        first = workbook.worksheets[0]
        if is_header is None or len(workbook.worksheets) == 1 or _has_header(first, is_header):
            return first
        for worksheet in workbook.worksheets[1:]:
            if _has_header(worksheet, is_header):
                warnings.append(f"đọc trang {worksheet.title!r}: trang này có các cột cần thiết, trang đầu"
                                f" {first.title!r} thì không / read sheet {worksheet.title!r}: it has the columns,"
                                f" the first sheet {first.title!r} has not")
                return worksheet
        return first
    for worksheet in workbook.worksheets:
        if worksheet.title == sheet:
            return worksheet
    for worksheet in workbook.worksheets:
        if header_key(worksheet.title) == header_key(sheet):
            return worksheet
    names = ", ".join(repr(ws.title) for ws in workbook.worksheets)
    raise error(f"không có trang {sheet!r}; các trang: {names} / no sheet {sheet!r} in the workbook; its sheets"
                f" are: {names}")


def _has_header(worksheet: Any, is_header: HeaderTest) -> bool:
    try:
        for cells in worksheet.iter_rows(min_row=1, max_row=_HEADER_ROWS, values_only=True):
            if is_header([cell_text(v) for v in cells]):
                return True
    except Exception:  # noqa: BLE001 - a damaged sheet is not the one; reading it says what is wrong
        return False
    return False


# --- CSV -----------------------------------------------------------------------------------------

# Control characters other than tab and line ends: a NUL is refused by PostgreSQL (and silently stored
# by SQLite), the others are invisible debris of copy-paste; they are removed as lines are read.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A cell spanning more lines than this is a quote left open, whatever the lines look like.
_MAX_CELL_LINES = 30
# Line-level notes kept word for word; beyond, only counted.
_NOTES_SHOWN = 20


class _Notes:
    """What was mended while reading (bad bytes, control characters), named by line, capped."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if self.count <= _NOTES_SHOWN:
            self.warnings.append(text)
        elif self.count == _NOTES_SHOWN + 1:
            self.warnings.append("... các dòng sau như vậy không được liệt kê / ... further such lines are not listed")


@contextmanager
def _csv(path: Path, error: type[TableError]) -> Iterator[Table]:
    warnings: list[str] = []
    encoding = _choose_encoding(path, warnings)
    # UTF-8 throughout and no control character (most lists): no line needs checking on its own.
    clean = encoding == "utf-8" and not warnings and not _has_control_bytes(path)
    notes = _Notes(warnings)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the caller is done
    except OSError as exc:
        raise error(f"không đọc được {path} / cannot read {path}: {exc.strerror or exc}") from None
    try:
        # Only to choose the delimiter: a bad byte in the sample is for the reading to name.
        sample_bytes = handle.read(_SNIFF_CHARS)
        handle.seek(0)
        delimiter = sniff_delimiter(sample_bytes.decode(encoding, errors="replace").lstrip("\ufeff"))
        lines = _decoded_lines(handle, encoding, notes, clean)
        table = Table(_records(lines, delimiter), "csv", encoding, delimiter, warnings=warnings)
        yield table
    finally:
        handle.close()


def _decoded_lines(handle: BinaryIO, encoding: str, notes: _Notes, clean: bool) -> Iterator[tuple[int, str]]:
    """``(line number, text)``: each line decoded on its own, so that a bad byte is named by its line and
    spoils nothing else; control characters removed.  (One generator: this runs for every line of lists
    of millions.)"""
    if clean:  # read by Python's text reader at C speed
        text_lines = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        yield from enumerate(text_lines, start=1)
        return
    if encoding == "utf-16":  # Excel's "Unicode text": decoded whole, the BOM says how
        lines: Iterator[Any] = codecs.getreader("utf-16")(handle)
    else:
        lines = iter(handle)
    control = _CONTROL.search
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, str):
            text = raw
        else:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.end].hex(" ").upper()
                notes.add(f"dòng {number}: byte {bad} không phải UTF-8, đã thay bằng \ufffd (các dòng khác đọc bình"
                          f" thường) / line {number}: byte {bad} is not UTF-8, replaced by \ufffd (other lines read as"
                          " they are)")
                text = raw.decode(encoding, errors="replace")
        if number == 1:
            text = text.lstrip("\ufeff")
        if control(text):
            text = _CONTROL.sub("", text)
            notes.add(f"dòng {number}: đã bỏ ký tự điều khiển (NUL...) / line {number}: control characters (NUL...)"
                      " removed")
        yield number, text


RUNAWAY_QUOTE = ('dấu ngoặc kép " mở một ô mà không đóng: dòng này bị bỏ, các dòng sau được đọc riêng'
                 ' / a quote " opens a cell that is never closed: this line is skipped, the next ones are read'
                 ' on their own')


class _Runaway(Exception):
    pass


class _Feed:
    """The lines the csv reader takes, remembering those of the current record; lines handed back
    (after a runaway quote) are read again first.  A class, not a generator: it raises ``_Runaway``
    and goes on afterwards."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self.lines = lines
        self.again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.again.popleft() if self.again else next(self.lines)
        self.taken.append(line)
        if len(self.taken) > _MAX_CELL_LINES:
            raise _Runaway
        return line[1]


def _records(lines: Iterator[tuple[int, str]], delimiter: str) -> Iterator[list[str] | Unreadable]:
    """CSV records; a quote opened and never closed (a stray ``"``) swallows no neighbour: its line comes
    out as :class:`Unreadable` and the lines after it are read again on their own."""
    feed = _Feed(lines)
    reader = csv.reader(feed, delimiter=delimiter)
    width = 0  # cells of the last row read on its own line: what a swallowed row looks like
    again = feed.again
    while True:
        item = again.popleft() if again else next(lines, None)
        if item is None:
            return
        text = item[1]
        if '"' not in text:  # no quote, nothing to open: split at C speed (most lines of most lists)
            cells = text.rstrip("\r\n").split(delimiter) if text.strip("\r\n") else []
            if cells:
                width = len(cells)
            yield cells
            continue
        again.appendleft(item)  # the csv reader takes it from there, and the lines its quotes span
        feed.taken.clear()
        failure = ""
        try:
            parsed: list[str] | None = next(reader)
        except StopIteration:  # pragma: no cover - the line handed back is always there
            return
        except csv.Error as exc:
            parsed, failure = None, str(exc)
        except _Runaway:
            parsed = None
        taken = feed.taken
        if parsed is not None:
            if len(taken) <= 1:
                width = len(parsed) or width
                yield parsed
                continue
            if not _swallowed_lines(parsed, width, delimiter):
                yield parsed
                continue
        first = taken[0][0] if taken else 0
        if len(taken) > 1:
            feed.again.extendleft(reversed(taken[1:]))  # a copy: `taken` is cleared for the next record
            yield Unreadable(RUNAWAY_QUOTE, first)
        else:
            yield Unreadable(bilingual(f"dòng không đọc được ({failure})", f"unreadable line ({failure})")
                             if failure else bilingual("dòng không đọc được", "unreadable line"), first)


def _swallowed_lines(cells: list[str], width: int, delimiter: str) -> bool:
    """Whether a cell spanning lines holds whole rows (a quote left open) rather than, say, an address
    typed on two lines: a line inside it has as many delimiters as a row has."""
    needed = max(1, width - 1)
    for cell in cells:
        if "\n" in cell:
            for inner in cell.split("\n")[1:]:
                if inner.count(delimiter) >= needed:
                    return True
    return False


def _choose_encoding(path: Path, warnings: list[str]) -> str:
    """On the evidence of the whole file: UTF-16 with a BOM; UTF-8 when the file decodes so, or when at
    least as many lines with accents are UTF-8 as not (the others are named line by line as they are
    read); otherwise a legacy code page (Windows Vietnamese cp1258, else Latin-1), with a warning."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8"
    utf8 = other = 0
    with open(path, "rb") as f:
        for raw in f:
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                utf8 += 1
            except UnicodeDecodeError:
                other += 1
    if utf8 >= other:
        warnings.append(
            f"{path.name}: {other} dòng có byte không phải UTF-8 ({utf8} dòng UTF-8): đọc là UTF-8, các dòng lỗi"
            f" được nêu bên dưới / {other} lines are not UTF-8 ({utf8} are): read as UTF-8, the bad lines named below")
        return "utf-8"
    for encoding in ("cp1258", "latin-1"):
        if _decodes(path, encoding):
            vi, en = (" (Windows tiếng Việt)", " (Windows Vietnamese)") if encoding == "cp1258" else ("", "")
            warnings.append(
                f"{path.name} không phải UTF-8: đọc theo {encoding}{vi}; hãy kiểm tra tên có dấu, hoặc lưu tệp"
                f" thành CSV UTF-8 / {path.name} is not UTF-8: read as {encoding}{en}; check that names look right,"
                " or save the file as CSV UTF-8")
            return encoding
    raise AssertionError("latin-1 decodes anything")  # pragma: no cover


def _has_control_bytes(path: Path) -> bool:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            if _CONTROL_BYTES.search(chunk):
                return True
    return False


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
