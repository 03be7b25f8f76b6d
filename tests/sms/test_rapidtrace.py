"""Rapid trace: the people a carrier saw at a place within a time window get one SMS each."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from robocall.cli import cli
from robocall.sms_models import SmsMessage, SmsOptOut
from robocall.text import fold
from sms.campaigns import create_campaign, dry_run, figures, invalid_recipients
from sms.context import SmsContext
from sms.prepare import Template
from sms.rapidtrace import (
    TEMPLATE_FIELDS,
    Window,
    find_columns,
    parse_time,
    trace,
)
from sms.recipients import RecipientsError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.UTC
HEADER = ("SO_THUE_BAO", "MA_TRAM", "DIA_DIEM", "THOI_GIAN")
MARKET, HOSPITAL = "Chợ Bình Điền", "45204-0099"  # a place name, and a cell id (the hospital's cell)
WINDOW = ("2021-08-10 08:00", "2021-08-10 12:00")
TEXT = "Sở Y tế: bạn đã có mặt tại {{ place }} lúc {{ seen_at }}. Hãy khai báo y tế và theo dõi sức khỏe."

# (phone as the carrier wrote it, cell id, place name, time); row numbers are the index + 2.
SIGHTINGS = [
    ("84912345678", "45204-0012", "CHO BINH DIEN", "2021-08-10 10:30:00"),      # 2  An, again below
    ("0981234567", "45204-0012", "Chợ  Bình-Điền", "10/08/2021 11:59"),         # 3  Bình: accents, spaces
    ("84901234567", "45204-0050", "Bến xe Miền Tây", "2021-08-10 09:00:00"),    # 4  elsewhere
    ("0912345678", "45204-0012", "CHO BINH DIEN", "2021-08-10 09:15:00"),       # 5  An, earlier: seen_at
    ("+84912345678", "45204-0012", "CHO BINH DIEN", "2021-08-10 07:59:59"),     # 6  An, before the window
    ("84971234567", "45204-0012", "CHO BINH DIEN", "2021-08-10 12:00:01"),      # 7  after the window
    ("84961234567", "45204-0099", "", "2021-08-10T01:00:00+00:00"),            # 8  Cường, 08:00 local, hospital
    ("84961234567", "45204-0099", "", "20210810103000"),                       # 9  Cường again (CDR time)
    ("84931234567", "45204-0099", "", "31/02/2021 09:00"),                     # 10 unreadable time
    ("84941234567", "45204-0050", "Bến xe Miền Tây", "not a time"),             # 11 bad time, elsewhere: ignored
    ("12345", "45204-0012", "CHO BINH DIEN", "2021-08-10 09:30"),               # 12 unusable number
    ("12345", "45204-0012", "CHO BINH DIEN", "2021-08-10 09:40"),               # 13 same, listed once
    ("+66812345678", "45204-0099", "", "2021-08-10 09:00"),                    # 14 foreign number
    ("0351234567", "45204-0012", "CHO BINH DIEN", "1628568000"),                # 15 Dũng, Unix time = 11:00 local
    ("0351234568", "45204-0099", "", "2021-08-10 12:00"),                      # 16 Em, at the end: included
]
EXPECTED = {  # who gets a message: place as the CDC wrote it, first time seen (local)
    "+84912345678": (MARKET, "09:15 10/08/2021"),
    "+84981234567": (MARKET, "11:59 10/08/2021"),
    "+84961234567": (HOSPITAL, "08:00 10/08/2021"),
    "+84351234567": (MARKET, "11:00 10/08/2021"),
    "+84351234568": (HOSPITAL, "12:00 10/08/2021"),
}


def write_export(path: Path, rows: list[tuple[str, ...]] = SIGHTINGS, header: tuple[str, ...] = HEADER,
                 delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def window() -> Window:
    return Window.parse(*WINDOW, TZ)


# --- times, windows, columns ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-08-10 09:15:00", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    ("2021-08-10 09:15", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    ("2021-08-10T09:15:00+07:00", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    ("2021-08-10T02:15:00Z", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    ("10/08/2021 09:15", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    (" 1/8/2021 9:05:30 ", dt.datetime(2021, 8, 1, 2, 5, 30, tzinfo=UTC)),
    ("20210810091500", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
    ("1628561700", dt.datetime(2021, 8, 10, 2, 15, tzinfo=UTC)),
])
def test_carrier_times_are_read_as_local_unless_they_have_an_offset(text: str, expected: dt.datetime) -> None:
    assert parse_time(text, TZ) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("hôm qua", "not a date and time"), ("10/08/2021", "no time of day"),
    ("2021-08-10", "no time of day"), ("31/02/2021 09:00", "day is out of range"), ("10/13/2021 09:00", "month"),
    ("12345", "not a date and time"),
])
def test_unreadable_times_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_time(text, TZ)


def test_window_is_local_both_ends_included_and_a_date_alone_is_the_whole_day() -> None:
    w = Window.parse("10/08/2021", "2021-08-11", TZ)
    assert w.start == dt.datetime(2021, 8, 10, tzinfo=TZ)
    assert w.end == dt.datetime(2021, 8, 11, 23, 59, 59, 999999, tzinfo=TZ)
    assert window().describe(TZ) == "08:00 10/08/2021 – 12:00 10/08/2021"
    with pytest.raises(RecipientsError, match="ends .* before it starts"):
        Window.parse("2021-08-10 12:00", "2021-08-10 08:00", TZ)
    with pytest.raises(RecipientsError, match="window start 'sáng nay'"):
        Window.parse("sáng nay", "2021-08-10 08:00", TZ)


def test_columns_by_alias_or_named_and_clear_errors() -> None:
    cols = find_columns(["Số thuê bao", "Mã trạm", "Địa điểm", "Thời gian (dd/mm/yyyy hh:mm)"])
    assert (cols.phone, cols.cell, cols.place, cols.time) == (0, 1, 2, 3)
    cols = find_columns(["msisdn", "cell_id", "seen_at"])
    assert (cols.phone, cols.cell, cols.place, cols.time) == (0, 1, None, 2)
    cols = find_columns(["isdn", "Khu vực", "lúc"], {"place": "khu vuc", "time": "Lúc"})
    assert (cols.phone, cols.place, cols.time) == (0, 1, 2)
    with pytest.raises(RecipientsError, match="no time column .* --column time=HEADER"):
        find_columns(["msisdn", "cell_id"])
    with pytest.raises(RecipientsError, match="no cell id or place column"):
        find_columns(["msisdn", "time"])
    with pytest.raises(RecipientsError, match="no subscriber number column"):
        find_columns(["cell", "time"])
    with pytest.raises(RecipientsError, match="several columns could be the time: 'time' and 'timestamp'"):
        find_columns(["msisdn", "cell", "time", "timestamp"])
    with pytest.raises(RecipientsError, match="no column 'Giờ' \\(for time\\)"):
        find_columns(["msisdn", "cell", "time"], {"time": "Giờ"})


def test_place_names_match_without_case_accents_or_punctuation_but_whole() -> None:
    assert fold("Chợ Bình Điền") == fold("CHO  BINH-DIEN") == "chobinhdien"
    assert fold("Chợ Bình Điền (khu A)") != fold("Chợ Bình Điền (khu B)")


# --- the scan -----------------------------------------------------------------------------------


def test_people_seen_at_the_places_in_the_window_once_each_with_their_first_sighting(tmp_path: Path) -> None:
    result = trace(write_export(tmp_path / "seen.csv"), [MARKET, HOSPITAL], window(), tz=TZ)
    items = list(result.recipients())
    errors = [(r.row, r.raw, r.error) for r in items if r.error]
    people = {r.raw: (r.fields["place"], r.fields["seen_at"]) for r in items if not r.error}
    assert people == EXPECTED
    an = next(r for r in items if r.raw == "+84912345678")
    assert an.row == 5 and an.fields["seen_time"] == "09:15" and an.fields["seen_date"] == "10/08/2021"
    assert [(row, raw) for row, raw, _ in errors] == [(10, "31/02/2021 09:00"), (12, "12345"), (14, "+66812345678")]
    assert errors[0][2].startswith("unreadable time: day is out of range for month")
    assert errors[1][2] == "quá ngắn / too short" and "số nước ngoài" in errors[2][2] and "foreign number" in errors[2][2]
    s = result.stats
    assert (s.rows, s.at_places, s.sightings, s.people) == (15, 13, 7, 5)
    assert (s.bad_times, s.bad_numbers, s.bad_number_rows, s.outside_window) == (1, 2, 3, 2)
    assert s.by_place == {MARKET: 4, HOSPITAL: 3} and s.people_by_place == {MARKET: 3, HOSPITAL: 2}


def test_semicolons_a_bom_and_blank_rows(tmp_path: Path) -> None:
    rows = [("0912345678", "45204-0012", "", "2021-08-10 09:00"), ("", "", "", ""),
            ("0912345679", "45204-0012", "", "2021-08-10 09:00")]
    path = write_export(tmp_path / "seen.csv", rows, ("MSISDN", "CELL_ID", "Vị trí", "Thời điểm"), ";", "utf-8-sig")
    result = trace(path, ["45204-0012"], window(), tz=TZ)
    assert [r.raw for r in result.recipients()] == ["+84912345678", "+84912345679"] and result.stats.rows == 2


def test_a_place_no_row_names_is_refused_with_what_the_file_has(tmp_path: Path) -> None:
    result = trace(write_export(tmp_path / "seen.csv"), [MARKET, "Chợ Bình Tây"], window(), tz=TZ)
    with pytest.raises(RecipientsError, match="no row of seen.csv is at 'Chợ Bình Tây'.*'45204-0050 / Bến xe Miền Tây'"):
        result.require_every_place()


def test_a_time_column_that_never_reads_stops_the_scan(tmp_path: Path) -> None:
    rows = [(f"0912{i:06d}", "45204-0012", "", "10-08-2021 09:00") for i in range(150)]
    with pytest.raises(RecipientsError, match="time column 'THOI_GIAN' holds no time .*row 2: '10-08-2021 09:00'"):
        trace(write_export(tmp_path / "seen.csv", rows), ["45204-0012"], window(), tz=TZ)


def test_only_the_people_who_match_are_kept(tmp_path: Path) -> None:
    """100,000 sightings, 200 of them at the market: the scan keeps 200 people, not the file."""
    rows = [(f"0912{i:06d}", "45204-0012" if i % 500 == 0 else f"45205-{i % 97:04d}", "", "2021-08-10 09:00")
            for i in range(100_000)]
    rows += [(f"0912{i:06d}", "45204-0012", "", "2021-08-10 10:00") for i in range(0, 100_000, 1000)]  # again
    result = trace(write_export(tmp_path / "seen.csv", rows), ["45204-0012"], window(), tz=TZ)
    assert len(result.people) == result.stats.people == 200 and result.stats.sightings == 300
    assert not result.rejected


# --- campaigns ------------------------------------------------------------------------------------


def _messages(engine: Engine, campaign_id: int) -> dict[str, str | None]:
    with engine.connect() as connection:
        return dict(connection.execute(select(SmsMessage.phone, SmsMessage.text)
                                       .where(SmsMessage.campaign_id == campaign_id)).all())


def _rendered(place: str, seen_at: str) -> str:
    return TEXT.replace("{{ place }}", place).replace("{{ seen_at }}", seen_at)


def test_campaign_goes_to_exactly_the_people_seen_once_each_with_place_and_time(
        tmp_path: Path, ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    c = ctx()
    with migrated.begin() as connection:  # Dũng answered STOP once: seen, but gets nothing
        connection.execute(insert(SmsOptOut).values(phone="+84351234567"))
    result = trace(write_export(tmp_path / "seen.csv"), [MARKET, HOSPITAL], window(), tz=TZ)
    template = Template(TEXT, False, TEMPLATE_FIELDS)
    preview = dry_run(migrated, result.recipients(), template, c.router)
    summary = create_campaign(migrated, result.recipients(), template, c.router, source=result.describe())
    expected = {phone: _rendered(*fields) for phone, fields in EXPECTED.items() if phone != "+84351234567"}
    assert _messages(migrated, summary.campaign_id) == expected
    assert (summary.recipients, summary.duplicates, summary.opted_out, summary.invalid) == (4, 0, 1, 3)
    assert (preview.recipients, preview.duplicates, preview.opted_out, preview.invalid) == (4, 0, 1, 3)
    assert preview.by_encoding == {"UCS-2": 4}
    invalid = invalid_recipients(migrated, summary.campaign_id)
    assert [(row, value) for row, value, _ in invalid] == [(10, "31/02/2021 09:00"), (12, "12345"),
                                                           (14, "+66812345678")]
    assert invalid[0][2].startswith("unreadable time")
    assert figures(migrated, summary.campaign_id).recipients == 4


def test_cli_dry_run_then_send(tmp_path: Path, sms_env: dict[str, str], migrated: Engine,
                               start_workers: Callable[..., object]) -> None:
    path = write_export(tmp_path / "seen.csv")
    args = ["sms", "send", "--seen", str(path), "--place", MARKET, "--place", HOSPITAL, "--between", *WINDOW,
            "--text", TEXT]
    runner = CliRunner()
    preview = runner.invoke(cli, [*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert ("seen.csv: 15 rows; 7 sightings at the places within 08:00 10/08/2021 – 12:00 10/08/2021 -> 5 people"
            in preview.output)
    assert f"  {MARKET}: 4 sightings, 3 people first seen there" in preview.output
    assert "  2 sightings at the places outside the window (left out)" in preview.output
    assert "  1 row at the places with an unreadable time (listed as invalid)" in preview.output
    assert "recipients: 5 (0 duplicates, 0 opted out, 3 invalid)" in preview.output
    as_json = json.loads(runner.invoke(cli, [*args, "--dry-run", "--json"]).output)
    assert as_json["recipients"] == 5 and as_json["seen"]["sightings"] == 7 and as_json["seen"]["people"] == 5
    with migrated.connect() as connection:
        assert connection.execute(select(SmsMessage.id)).first() is None  # the dry run sent nothing

    start_workers(1)
    sent = runner.invoke(cli, args)
    assert sent.exit_code == 0, sent.output
    assert "campaign 1: 5 recipients" in sent.output and "campaign 1: finished, 5 recipients" in sent.output
    assert _messages(migrated, 1) == {phone: _rendered(*fields) for phone, fields in EXPECTED.items()}
    status = runner.invoke(cli, ["sms", "status", "1", "--invalid"])
    assert "row 10: '31/02/2021 09:00': unreadable time" in status.output


@pytest.mark.parametrize(("extra", "message"), [
    (["--to", "x.csv"], "exactly one of --to FILE, --contacts FILTER or --seen FILE"),
    (["--place", "x"], "--seen FILE needs --place (one or more) and --between START END"),
])
def test_cli_usage_errors(tmp_path: Path, sms_env: dict[str, str], extra: list[str], message: str) -> None:
    path = write_export(tmp_path / "seen.csv")
    result = CliRunner().invoke(cli, ["sms", "send", "--seen", str(path), "--text", "x", *extra])
    assert result.exit_code == 2 and message in result.output


def test_cli_refuses_an_unknown_place_a_bad_window_or_field_before_any_campaign(
        tmp_path: Path, sms_env: dict[str, str], migrated: Engine) -> None:
    path = write_export(tmp_path / "seen.csv")
    runner = CliRunner()
    base = ["sms", "send", "--seen", str(path), "--between", *WINDOW]
    typo = runner.invoke(cli, [*base, "--place", "Cho Binh Dienn", "--text", TEXT])
    assert typo.exit_code == 1 and "no row of seen.csv is at 'Cho Binh Dienn'" in typo.output
    field = runner.invoke(cli, [*base, "--place", MARKET, "--text", "{{ ho_va_ten }}"])
    assert field.exit_code == 1 and "ho_va_ten" in field.output
    bad_window = runner.invoke(cli, ["sms", "send", "--seen", str(path), "--place", MARKET,
                                     "--between", "2021-08-10 08:00", "trưa", "--text", TEXT])
    assert bad_window.exit_code == 1 and "window end 'trưa'" in bad_window.output
    with migrated.connect() as connection:
        assert connection.execute(select(SmsMessage.id)).first() is None
