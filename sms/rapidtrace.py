"""Rapid-trace recipients: the subscribers a carrier saw at a place during a time window.

In an outbreak the CDC asks the carriers for every subscriber whose phone was
attached to the cells around a venue (a market, a hospital) during a window, and
texts them.  The carrier's export is a CSV of sightings, one row per
(subscriber, cell, time), possibly millions of rows.  It is streamed; only the
people who match are kept, one entry per distinct number (three integers: the
first time seen, which place, the row), so a person seen fifty times is one
recipient and ``{{ seen_at }}`` is their *first* sighting there in the window.

Columns are found by their headers, folded like the contacts importer folds
them (``MSISDN``, ``Số thuê bao``; ``cell_id``, ``Mã trạm``; ``Địa điểm``,
``location``; ``Thời gian``, ``seen_at``, ``timestamp``...), or named with
``FIELD=HEADER`` (fields: phone, cell, place, time).  The delimiter (, ; tab |)
is read from the header line.

Times: ``2021-08-10 09:15[:00]`` (ISO, ``T`` and an offset allowed),
``10/08/2021 09:15[:00]`` (day first), ``20210810091500`` (CDR style) or Unix
seconds; local time (TIMEZONE) unless an offset is given.  The window includes
both ends.

Places: each wanted place is matched against the row's cell id and its place
name, ignoring case, accents, spaces and punctuation (``Chợ Bình Điền`` =
``CHO BINH DIEN`` = ``cho-binh-dien``), as a whole value, not a substring.

Rows at a wanted place whose time can't be read, and unusable numbers seen in
the window, come out as recipients carrying an ``error``: the campaign lists
them as invalid with their row.  Rows at other places are only counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from robocall.contacts.importer import HEADER_ALIASES
from robocall.phones import InvalidPhone, normalize
from robocall.tabular import Unreadable, header_key, match_columns, parse_column_options
from robocall.text import fold
from sms.recipients import Recipient, RecipientsError, open_list

log = logging.getLogger(__name__)

COLUMN_FIELDS = ("phone", "cell", "place", "time")
TEMPLATE_FIELDS = ("place", "seen_at", "seen_time", "seen_date")
TIME_FORMATS = "YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM"

_ALIASES: dict[str, frozenset[str]] = {
    "phone": HEADER_ALIASES["phone"] | {header_key(a) for a in (
        "MSISDN", "ISDN", "Số thuê bao", "Thuê bao", "Số TB", "subscriber", "subscriber number")},
    "cell": frozenset(header_key(a) for a in (
        "cell_id", "cell id", "cell", "CI", "CGI", "lac_ci", "Mã trạm", "Mã cell", "Trạm", "BTS", "site_id")),
    "place": frozenset(header_key(a) for a in (
        "place", "place name", "Địa điểm", "Tên địa điểm", "location", "Vị trí", "venue", "Tên trạm")),
    "time": frozenset(header_key(a) for a in (
        "time", "Thời gian", "Thời điểm", "Ngày giờ", "seen_at", "seen at", "timestamp", "datetime",
        "date_time", "event_time")),
}
_BAD_TIME_LIMIT = 100  # unreadable times before any readable one: the column is wrong, stop
_CACHE_LIMIT = 100_000  # distinct cell/place values remembered
_SAMPLES = 5


def parse_columns(options: Iterable[str]) -> dict[str, str]:
    """``FIELD=HEADER`` options (``time=Thời điểm``) as {field: header}."""
    return parse_column_options(options, COLUMN_FIELDS, RecipientsError)


# --- times -----------------------------------------------------------------------

_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _read_time(text: str, tz: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """(aware datetime, whether a time of day was given); ValueError with a short reason."""
    value = text.strip()
    if not value:
        raise ValueError("empty")
    if value.isdigit():
        if len(value) in (12, 14):  # CDR style YYYYMMDDHHMM[SS]
            return dt.datetime.strptime(value, "%Y%m%d%H%M%S"[:len(value) - 2]).replace(tzinfo=tz), True
        if len(value) in (10, 13):  # Unix seconds or milliseconds
            return dt.datetime.fromtimestamp(int(value) / 10 ** (len(value) - 10), dt.UTC), True
        raise ValueError("not a date and time")
    if "/" in value:
        match = _DMY.fullmatch(value)
        if match is None:
            raise ValueError("not a date and time")
        day, month, year, hour, minute, second = match.groups()
        at = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        return at.replace(tzinfo=tz), hour is not None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date and time") from None
    timed = len(value) > 10  # "2021-08-10" alone is a date
    return (at.replace(tzinfo=tz) if at.tzinfo is None else at), timed


def parse_time(text: str, tz: dt.tzinfo) -> dt.datetime:
    """A carrier's timestamp as an aware datetime (local ``tz`` unless it has an offset)."""
    at, timed = _read_time(text, tz)
    if not timed:
        raise ValueError("no time of day")
    return at


@dataclass(frozen=True)
class Window:
    """From `start` to `end`, both included (aware datetimes)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def parse(cls, start: str, end: str, tz: dt.tzinfo) -> Window:
        """Local times (or with an offset); a date alone is the start of that day, or its end for `end`."""
        try:
            first, _ = _read_time(start, tz)
        except ValueError as exc:
            raise RecipientsError(f"window start {start!r}: {exc} (use {TIME_FORMATS})") from None
        try:
            last, timed = _read_time(end, tz)
        except ValueError as exc:
            raise RecipientsError(f"window end {end!r}: {exc} (use {TIME_FORMATS})") from None
        if not timed:
            last = last + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        if last < first:
            raise RecipientsError(f"the window ends ({end}) before it starts ({start})")
        return cls(first, last)

    def describe(self, tz: dt.tzinfo) -> str:
        return f"{self.start.astimezone(tz):%H:%M %d/%m/%Y} – {self.end.astimezone(tz):%H:%M %d/%m/%Y}"


# --- columns -----------------------------------------------------------------------


@dataclass(frozen=True)
class SeenColumns:
    headers: list[str]
    phone: int
    time: int
    cell: int | None
    place: int | None


def find_columns(headers: list[str], chosen: dict[str, str] | None = None) -> SeenColumns:
    """The column of each field: named ones first, then by known headers."""
    found = match_columns(headers, COLUMN_FIELDS, _ALIASES, chosen or {}, error=RecipientsError)
    index = {name: columns[0] for name, columns in found.items()}
    shown = ", ".join(repr(h) for h in headers if h.strip()) or "none"
    if "phone" not in index:
        raise RecipientsError(f"no subscriber number column (MSISDN, Số thuê bao, phone...) among {shown};"
                              " name it with --column phone=HEADER")
    if "time" not in index:
        raise RecipientsError(f"no time column (time, Thời gian, seen_at, timestamp...) among {shown};"
                              " name it with --column time=HEADER")
    if "cell" not in index and "place" not in index:
        raise RecipientsError(f"no cell id or place column (cell_id, Mã trạm, place, Địa điểm...) among {shown};"
                              " name one with --column cell=HEADER or --column place=HEADER")
    return SeenColumns(headers, index["phone"], index["time"], index.get("cell"), index.get("place"))


# --- the scan ----------------------------------------------------------------------


@dataclass
class TraceStats:
    rows: int = 0  # data rows read
    at_places: int = 0  # rows at a wanted place, any time
    sightings: int = 0  # rows at a wanted place in the window with a usable number
    people: int = 0  # distinct numbers among the sightings: the recipients
    bad_times: int = 0  # rows at a wanted place whose time can't be read
    bad_numbers: int = 0  # distinct unusable numbers at a wanted place in the window
    bad_number_rows: int = 0  # rows with those numbers (a number may be seen many times)
    by_place: Counter[str] = field(default_factory=Counter)  # wanted place -> sightings in the window
    people_by_place: Counter[str] = field(default_factory=Counter)  # wanted place -> people first seen there
    unseen_places: list[str] = field(default_factory=list)  # wanted places no row names at all
    samples: list[str] = field(default_factory=list)  # a few cell/place values of the file

    @property
    def outside_window(self) -> int:
        return self.at_places - self.sightings - self.bad_times - self.bad_number_rows

    def to_json(self) -> dict[str, object]:
        return {"rows": self.rows, "at_places": self.at_places, "sightings": self.sightings,
                "people": self.people, "outside_window": self.outside_window, "bad_times": self.bad_times,
                "bad_numbers": self.bad_numbers, "by_place": dict(self.by_place),
                "people_by_place": dict(self.people_by_place), "unseen_places": self.unseen_places}


class _Places:
    """Which wanted place a cell id or place name is (-1: none), remembered per distinct value."""

    def __init__(self, places: Iterable[str]) -> None:
        self.names: list[str] = []
        self.keys: dict[str, int] = {}
        for place in places:
            key = fold(place)
            if not key:
                raise RecipientsError(f"place {place!r} has no letters or digits")
            if key not in self.keys:
                self.keys[key] = len(self.names)
                self.names.append(place.strip())
        if not self.names:
            raise RecipientsError("name at least one place (--place)")
        self._cache: dict[str, int] = {}

    def index(self, value: str) -> int:
        hit = self._cache.get(value)
        if hit is None:
            hit = self.keys.get(fold(value), -1)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[value] = hit
        return hit


class Trace:
    """The result of reading a carrier's export: the matched people (kept), the bad rows, the figures."""

    def __init__(self, path: Path, places: list[str], window: Window, tz: dt.tzinfo) -> None:
        self.path, self.places, self.window, self.tz = path, places, window, tz
        self.stats = TraceStats()
        self.rejected: list[Recipient] = []
        # number (E.164 digits as int) -> (first seen, Unix seconds; wanted place index; row)
        self.people: dict[int, tuple[int, int, int]] = {}

    def recipients(self) -> Iterator[Recipient]:
        """The bad rows (as errors), then one recipient per person with place and first time seen."""
        yield from self.rejected
        for number, (seen, place, row) in self.people.items():
            local = dt.datetime.fromtimestamp(seen, self.tz)
            yield Recipient(row, f"+{number}", {
                "place": self.places[place], "seen_at": f"{local:%H:%M %d/%m/%Y}",
                "seen_time": f"{local:%H:%M}", "seen_date": f"{local:%d/%m/%Y}"})

    def require_every_place(self) -> None:
        """Refuse a wanted place that no row names at all, at any time: most likely a typo."""
        unseen = self.stats.unseen_places
        if unseen:
            looks = ", ".join(repr(v) for v in self.stats.samples)
            raise RecipientsError(
                f"no row of {self.path.name} is at {', '.join(repr(p) for p in unseen)} (compared with the cell id"
                f" and place name columns{'; values there look like ' + looks if looks else ''})")

    def describe(self) -> str:
        """The campaign's source."""
        return f"seen at {', '.join(self.places)} {self.window.describe(self.tz)} ({self.path.name})"


def trace(path: str | Path, places: Iterable[str], window: Window, *, columns: dict[str, str] | None = None,
          tz: dt.tzinfo) -> Trace:
    """Read the export once; keep the people seen at a wanted place within the window."""
    path = Path(path)
    wanted = _Places(places)
    result = Trace(path, wanted.names, window, tz)
    stats, people = result.stats, result.people
    start, end = window.start.timestamp(), window.end.timestamp()
    with open_list(path) as (header, reader, _):
        cols = find_columns(header, columns)
        cell_at, place_at, phone_at, time_at = cols.cell, cols.place, cols.phone, cols.time
        width = max(i for i in (cell_at, place_at, phone_at, time_at) if i is not None) + 1
        seen_places: set[int] = set()
        samples: dict[str, None] = {}
        bad_raw: set[str] = set()
        good_times = 0
        for row, cells in enumerate(reader, start=2):
            if isinstance(cells, Unreadable):
                stats.rows += 1
                result.rejected.append(Recipient(row, "", error=cells.message))
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            if not cells[phone_at].strip() and not any(c.strip() for c in cells):
                continue  # a blank row (the phone test first: it is filled in nearly every row)
            stats.rows += 1
            index = wanted.index(cells[cell_at]) if cell_at is not None else -1
            if index < 0 and place_at is not None:
                index = wanted.index(cells[place_at])
            if index < 0:
                if len(samples) < _SAMPLES:  # shown if a wanted place turns out to be named nowhere
                    value = " / ".join(v for v in (cells[i].strip() for i in (cell_at, place_at)
                                                   if i is not None) if v)
                    if value:
                        samples[value] = None
                continue
            stats.at_places += 1
            seen_places.add(index)
            text = cells[time_at]
            try:
                seen = parse_time(text, tz).timestamp()
            except ValueError as exc:
                stats.bad_times += 1
                result.rejected.append(Recipient(row, text, error=f"unreadable time: {exc} (use {TIME_FORMATS})"))
                if stats.bad_times >= _BAD_TIME_LIMIT and not good_times:
                    first = result.rejected[0]  # no readable time yet, so no bad number either
                    raise RecipientsError(
                        f"the time column {cols.headers[time_at]!r} holds no time that can be read"
                        f" (row {first.row}: {first.raw!r}; use {TIME_FORMATS});"
                        " choose another with --column time=HEADER") from None
                continue
            good_times += 1
            if not start <= seen <= end:
                continue
            raw = cells[phone_at]
            try:
                number = int(normalize(raw).e164[1:])
            except InvalidPhone as exc:
                stats.bad_number_rows += 1
                if raw not in bad_raw:  # each unusable number listed once, at its first row
                    bad_raw.add(raw)
                    stats.bad_numbers += 1
                    result.rejected.append(Recipient(row, raw, error=exc.reason))
                continue
            stats.sightings += 1
            stats.by_place[wanted.names[index]] += 1
            known = people.get(number)
            if known is None or seen < known[0]:
                people[number] = (int(seen), index, row)
    stats.people = len(people)
    stats.people_by_place.update(wanted.names[place] for _, place, _ in people.values())
    stats.unseen_places = [name for i, name in enumerate(wanted.names) if i not in seen_places]
    stats.samples = list(samples)
    log.info("rapid trace %s: %d rows, %d sightings at %d places in the window, %d people, %d bad times,"
             " %d unusable numbers", path.name, stats.rows, stats.sightings, len(wanted.names), stats.people,
             stats.bad_times, stats.bad_numbers)
    return result


def summary(result: Trace) -> list[str]:
    """What the scan found, for the CLI: sightings vs. people, and what was left out and why."""
    s = result.stats
    lines = [f"{result.path.name}: {_n(s.rows, 'row')}; {_n(s.sightings, 'sighting')} at the places within"
             f" {result.window.describe(result.tz)} -> {_n(s.people, 'person', 'people')}"]
    for place in result.places:
        lines.append(f"  {place}: {_n(s.by_place[place], 'sighting')},"
                     f" {_n(s.people_by_place[place], 'person', 'people')} first seen there")
    if s.outside_window:
        lines.append(f"  {_n(s.outside_window, 'sighting')} at the places outside the window (left out)")
    if s.bad_times:
        lines.append(f"  {_n(s.bad_times, 'row')} at the places with an unreadable time (listed as invalid)")
    if s.bad_numbers:
        lines.append(f"  {_n(s.bad_numbers, 'unusable number')} in the window (listed as invalid)")
    return lines


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else many or one + 's'}"
