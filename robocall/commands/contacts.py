"""`robocall contacts import`: load CDC contact lists (CSV or XLSX) into the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from robocall.call_policy import policy_from_settings
from robocall.config import get_settings
from robocall.contacts import ColumnMapping, DateOrder, ImportFileError, ImportReport, import_contacts
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.text import bilingual


def describe_columns(report: ImportReport) -> list[str]:
    """Which column was read for what (with how sure the header match is) and which were ignored."""
    lines = [f"dòng tiêu đề / header row: {report.header_row}"]
    for name, headers in report.columns.items():
        shown = " + ".join(repr(h) for h in headers)
        sure = report.confidence.get(name, 100)
        lines.append(f"  {name:<14} <- {shown}" + (f"  (đoán / guessed {sure}%)" if sure < 100 else ""))
    if report.ignored_columns:
        lines.append("  bỏ qua / ignored: " + ", ".join(repr(h) for h in report.ignored_columns))
    return lines


@click.group()
def contacts() -> None:
    """People followed up by calls and SMS (F1, F2, returnees)."""


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER",
              help="Header of a field when it isn't recognised, e.g. --column phone=\"Số liên lạc\". "
                   "Fields: name, phone, category, district, commune, exposure_date, language, birth_year, "
                   "address, notes. Repeatable.")
@click.option("--sheet", default=None, help="Worksheet of an XLSX file (default: the first).")
@click.option("--source", default=None, help="Name of the list, stored with each contact (default: the file name).")
@click.option("--report-csv", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the rejected rows (row, reason, phone) to this CSV file.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Local date of the import, YYYY-MM-DD (default: today); exposure dates after it are refused.")
@click.option("--date-order", type=click.Choice([o.value for o in DateOrder]), default=None,
              help="How typed dates like 08/03/2021 are written: dmy (day/month, the Vietnamese way) or mdy."
                   " Found from all the rows when they tell; a file whose dates could be either is refused"
                   " without it.")
def import_(file: Path, columns: tuple[str, ...], sheet: str | None, source: str | None,
            report_csv: Path | None, today: dt.datetime | None, date_order: str | None) -> None:
    """Import contacts from FILE (CSV or XLSX); importing a list again updates it.

    Rows that can't be imported are listed with their row number and reason; the
    others are imported anyway.
    """
    try:
        mapping = ColumnMapping.from_options(columns)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--column") from None
    settings = get_settings()
    policy = policy_from_settings(settings)  # the same monitoring periods as the dialer (MONITORING_DAYS)
    day = today.date() if today else dt.datetime.now(settings.tzinfo).date()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        report = import_contacts(engine, file, mapping, source or file.stem, policy, day, sheet=sheet,
                                 date_order=DateOrder(date_order) if date_order else None)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()

    for line in describe_columns(report):
        click.echo(line)
    for warning in report.warnings:
        click.echo(f"cảnh báo / warning: {warning}", err=True)
    where = f", sheet {report.sheet!r}" if report.sheet else ""
    click.echo(f"{file}{where} (danh sách {report.source_list!r}): {report.summary_vi()}")
    click.echo(f"{file}{where} (list {report.source_list!r}): {report.summary()}")
    if report.monitoring_over:
        click.echo(bilingual(
            f"{report.monitoring_over} liên hệ vừa nhập đã hết thời gian theo dõi (trước {day:%d/%m/%Y})",
            f"monitoring already over (before {day:%d/%m/%Y}) for {report.monitoring_over} of the imported contacts"))
    for rejected in report.rejected_rows:
        click.echo(str(rejected))
    if report_csv is not None:
        report.write_csv(report_csv)
        click.echo(bilingual(f"các hàng bị từ chối đã ghi vào {report_csv}", f"rejected rows written to {report_csv}"))
