"""`robocall sms ...`: send a campaign (or dry-run it), follow it, pause, resume, cancel."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import insert, update

from robocall.config import get_settings
from robocall.gc_tuning import freeze_startup_objects
from robocall.migrate import upgrade
from robocall.models import utcnow
from robocall.phones import InvalidPhone, normalize
from robocall.sms_models import CampaignStatus, SmsRouteOverride
from robocall.text import GSM7, UCS2
from sms.campaigns import (
    CampaignError,
    CampaignFigures,
    LoadSummary,
    create_campaign,
    dry_run,
    figures,
    invalid_recipients,
    list_campaigns,
    set_status,
)
from sms.context import SmsContext, context_from_settings
from sms.fanout import LoadFailed, drive, run_forever, send_while_loading
from sms.prepare import Template
from sms.rapidtrace import TEMPLATE_FIELDS, Trace, Window, parse_columns, trace
from sms.rapidtrace import summary as trace_summary
from sms.recipients import (
    CONTACT_FIELDS,
    ContactFilter,
    RecipientsError,
    contact_recipients,
    csv_fields,
    csv_recipients,
)


def _context() -> SmsContext:
    ctx = context_from_settings(get_settings())
    upgrade(ctx.engine)
    freeze_startup_objects()  # `sms send` and `sms run` may handle millions of messages
    return ctx


def _parse_at(value: str | None) -> dt.datetime | None:
    """``2021-08-12 08:00`` (local time) or ISO with an offset."""
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use YYYY-MM-DD HH:MM (local time)", param_hint="--at") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=get_settings().tzinfo)
    return at.astimezone(dt.UTC)


@click.group()
def sms() -> None:
    """SMS campaigns through the mobile carriers."""


@sms.command()
@click.option("--to", "to_file", type=click.Path(dir_okay=False, path_type=Path), help="CSV file of recipients.")
@click.option("--contacts", "contacts_filter", help="Contacts filter, e.g. 'category=F1,F2;district=Ba Đình'.")
@click.option("--seen", "seen_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A carrier's rapid-trace export (CSV of subscriber, cell/place, time): text the people seen "
                   "at --place within --between. Fields: {{ place }}, {{ seen_at }}, {{ seen_time }}, {{ seen_date }}.")
@click.option("--place", "places", multiple=True, help="With --seen: a cell id or place name (repeatable).")
@click.option("--between", nargs=2, metavar="START END",
              help="With --seen: the window, local time, both ends included, e.g. '2021-08-10 08:00' '2021-08-10 12:00'.")
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER",
              help="With --seen: the header of a column not recognised (fields phone, cell, place, time). Repeatable.")
@click.option("--text", "template", required=True, help="Message text; {{ field }} for per-recipient fields.")
@click.option("--phone-column", help="Header of the phone column (found automatically otherwise).")
@click.option("--strip-accents", is_flag=True, help="Remove Vietnamese diacritics so the text fits GSM-7.")
@click.option("--at", "at", help="Send later: local time YYYY-MM-DD HH:MM.")
@click.option("--name", default="", help="A name for the campaign.")
@click.option("--dry-run", is_flag=True, help="Count recipients, segments and cost; send nothing.")
@click.option("--detach", is_flag=True, help="Queue the campaign and return (workers send it; `sms resume` drives it).")
@click.option("--json", "as_json", is_flag=True)
def send(to_file: Path | None, contacts_filter: str | None, seen_file: Path | None, places: tuple[str, ...],
         between: tuple[str, str] | None, columns: tuple[str, ...], template: str, phone_column: str | None,
         strip_accents: bool, at: str | None, name: str, dry_run: bool, detach: bool, as_json: bool) -> None:
    """Send an SMS campaign to a CSV list, to contacts, or to the people a carrier saw at a place."""
    if sum(x is not None for x in (to_file, contacts_filter, seen_file)) != 1:
        raise click.UsageError("give exactly one of --to FILE, --contacts FILTER or --seen FILE")
    if seen_file is None and (places or between or columns):
        raise click.UsageError("--place, --between and --column go with --seen FILE")
    if seen_file is not None and (not places or not between):
        raise click.UsageError("--seen FILE needs --place (one or more) and --between START END")
    send_at = _parse_at(at)  # before a long read of the list
    ctx = _context()
    seen: Trace | None = None
    read_warnings: list[str] = []  # filled by the reading of a --to list: bad bytes, control characters
    try:
        if seen_file is not None:
            seen = _read_seen(seen_file, places, between, columns, phone_column, template, as_json)
            available: list[str] = list(TEMPLATE_FIELDS)
            recipients_factory = seen.recipients
            source = seen.describe()
        elif to_file is not None:
            available = csv_fields(to_file, phone_column)  # an unusable list stops here, before any campaign
            recipients_factory = lambda: csv_recipients(to_file, phone_column, read_warnings)  # noqa: E731
            source = str(to_file)
        else:
            where = ContactFilter.parse(contacts_filter or "")
            available = list(CONTACT_FIELDS)
            recipients_factory = lambda: contact_recipients(ctx.engine, where)  # noqa: E731
            source = where.describe()
        text = Template(template, strip_accents, available)
    except (RecipientsError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if dry_run:
        try:
            _print_dry_run(ctx, recipients_factory, Template(template, False, available), strip_accents, as_json,
                           {"seen": seen.stats.to_json()} if seen is not None else None)
        except RecipientsError as exc:
            raise click.ClickException(str(exc)) from None
        _print_read_warnings(read_warnings, as_json)
        return
    load = partial(create_campaign, ctx.engine, recipients_factory(), text, ctx.router, name=name, source=source,
                   send_at=send_at)
    if detach or (send_at is not None and send_at > utcnow()):
        summary = load()
        _print_load(summary, as_json)
        _print_read_warnings(read_warnings, as_json)
        if detach:
            if as_json:
                click.echo(json.dumps(figures(ctx.engine, summary.campaign_id).to_json(), ensure_ascii=False))
            return
        _drive_with_progress(ctx, summary.campaign_id, as_json)
        return
    _load_while_sending(ctx, load, as_json, read_warnings)


def _load_while_sending(ctx: SmsContext, load: Callable[..., LoadSummary], as_json: bool,
                        read_warnings: list[str]) -> None:
    try:
        summary, final = send_while_loading(ctx, load, lambda campaign_id: _drive_with_progress(
            ctx, campaign_id, as_json, show_final=False))
    except LoadFailed as exc:
        where = (f"; campaign {exc.campaign_id} is paused with what was loaded (robocall sms resume"
                 f" {exc.campaign_id} sends it, robocall sms cancel drops it)") if exc.campaign_id else ""
        raise click.ClickException(f"reading the list failed: {exc.__cause__}{where}") from None
    _print_load(summary, as_json)
    _print_read_warnings(read_warnings, as_json)
    _print_figures(final, as_json)


def _print_read_warnings(warnings: list[str], as_json: bool) -> None:
    for warning in warnings:
        click.echo(f"cảnh báo / warning: {warning}", err=True)


def _print_load(summary: LoadSummary, as_json: bool) -> None:
    if as_json:
        return
    click.echo(f"campaign {summary.campaign_id}: {summary.recipients:,} recipients, {summary.segments:,} segments"
               f" ({summary.duplicates:,} duplicates sent once, {summary.opted_out:,} opted out,"
               f" {summary.invalid:,} invalid)")
    for reason, count in summary.invalid_reasons.most_common():
        click.echo(f"  invalid: {reason}: {count:,}")
    if summary.invalid:
        click.echo(f"  (row by row: robocall sms status {summary.campaign_id} --invalid)")


def _read_seen(path: Path, places: tuple[str, ...], between: tuple[str, str], columns: tuple[str, ...],
               phone_column: str | None, template: str, as_json: bool) -> Trace:
    """Check the template, then read the carrier's export once (people kept, bad rows listed), and say
    what it found; a place named nowhere in the file (a typo?) stops here, before any campaign exists."""
    tz = get_settings().tzinfo
    chosen = parse_columns(columns)
    if phone_column:
        chosen.setdefault("phone", phone_column)
    window = Window.parse(between[0], between[1], tz)
    Template(template, False, TEMPLATE_FIELDS)  # a wrong field is refused before a long read
    result = trace(path, places, window, columns=chosen, tz=tz)
    result.require_every_place()
    if not as_json:
        for line in trace_summary(result):
            click.echo(line)
    return result


def _print_dry_run(ctx: SmsContext, recipients_factory, template: Template, strip: bool, as_json: bool,  # type: ignore[no-untyped-def]
                   extra: dict[str, object] | None = None) -> None:
    result = dry_run(ctx.engine, recipients_factory(), template, ctx.router)
    cost = ctx.policy.segment_cost
    data = {
        **(extra or {}),
        "recipients": result.recipients, "duplicates": result.duplicates, "opted_out": result.opted_out,
        "invalid": result.invalid, "invalid_reasons": dict(result.invalid_reasons),
        "by_carrier": dict(result.by_carrier), "by_encoding": dict(result.by_encoding),
        "segments": result.segments, "cost": result.cost(cost),
        "segments_stripped": result.segments_stripped, "cost_stripped": result.cost(cost, stripped=True),
        "strip_accents": strip, "example": result.example,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"recipients: {result.recipients:,} ({result.duplicates:,} duplicates, {result.opted_out:,} opted out,"
               f" {result.invalid:,} invalid)")
    for reason, count in result.invalid_reasons.most_common():
        click.echo(f"  invalid: {reason}: {count:,}")
    click.echo("by carrier: " + ", ".join(f"{k} {v:,}" for k, v in result.by_carrier.most_common()))
    click.echo(f"example: {result.example}")
    gsm, ucs = result.by_encoding.get(GSM7, 0), result.by_encoding.get(UCS2, 0)
    click.echo(f"as written:       {result.segments:>12,} segments  {result.cost(cost):>16,.0f} VND"
               f"  ({gsm:,} GSM-7, {ucs:,} UCS-2)")
    click.echo(f"--strip-accents:  {result.segments_stripped:>12,} segments"
               f"  {result.cost(cost, stripped=True):>16,.0f} VND  (GSM-7){'  <- chosen' if strip else ''}")


def _drive_with_progress(ctx: SmsContext, campaign_id: int, as_json: bool, show_final: bool = True) -> CampaignFigures:
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]SMS {task.fields[cid]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
                  disable=as_json) as progress:
        task = progress.add_task("sms", total=None, cid=campaign_id, detail="")

        def show(current: CampaignFigures) -> None:
            done = current.recipients - current.outstanding
            detail = " ".join(
                f"{carrier}: {sum(states.get(s, 0) for s in ('accepted', 'delivered'))}/{sum(states.values())}"
                for carrier, states in sorted(current.by_carrier.items()))
            progress.update(task, total=current.recipients, completed=done, detail=f"{current.status} {detail}")

        def quiet(until: dt.datetime) -> None:
            local = until.astimezone(get_settings().tzinfo)
            progress.console.print(
                f"Đang trong giờ không gửi tin (SMS_QUIET_HOURS): chờ đến {local:%H:%M %d/%m/%Y} rồi gửi tiếp"
                f" / quiet hours (SMS_QUIET_HOURS): waiting until {local:%Y-%m-%d %H:%M} local time to send")
            progress.update(task, detail=f"chờ đến / waiting until {local:%H:%M}")

        final = drive(ctx, campaign_id, show, on_quiet=quiet)
    if show_final:
        _print_figures(final, as_json)
    return final


def _print_figures(current: CampaignFigures, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(current.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"campaign {current.campaign_id}: {current.status}, {current.recipients:,} recipients"
               f" ({current.invalid:,} invalid, {current.duplicates:,} duplicates, {current.opted_out:,} opted out)")
    click.echo("  " + ", ".join(f"{state} {count:,}" for state, count in sorted(current.by_state.items())))
    for carrier, states in sorted(current.by_carrier.items()):
        click.echo(f"  {carrier:<14} " + ", ".join(f"{s} {n:,}" for s, n in sorted(states.items())))


@sms.command()
@click.argument("campaign_id", type=int, required=False)
@click.option("--invalid", "show_invalid", is_flag=True, help="List the invalid numbers with their reasons.")
@click.option("--json", "as_json", is_flag=True)
def status(campaign_id: int | None, show_invalid: bool, as_json: bool) -> None:
    """Figures of one campaign, or a line per campaign."""
    ctx = _context()
    if campaign_id is None:
        campaigns = list_campaigns(ctx.engine)
        if as_json:
            click.echo(json.dumps([figures(ctx.engine, c.id).to_json() for c in campaigns if c.id], indent=2))
            return
        for c in campaigns:
            click.echo(f"{c.id:>5}  {c.status:<10} {c.recipients:>10,}  {c.created_at:%Y-%m-%d %H:%M}  {c.name or c.source}")
        return
    try:
        current = figures(ctx.engine, campaign_id)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    _print_figures(current, as_json)
    if show_invalid:
        for row, value, reason in invalid_recipients(ctx.engine, campaign_id):
            click.echo(f"  row {row}: {value!r}: {reason}")


def _control(campaign_id: int, new_status: CampaignStatus) -> SmsContext:
    ctx = _context()
    try:
        campaign = set_status(ctx.engine, campaign_id, new_status)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign_id}: {campaign.status}")
    return ctx


@sms.command()
@click.argument("campaign_id", type=int)
def pause(campaign_id: int) -> None:
    """Stop sending (messages already with a carrier go on); `resume` continues."""
    _control(campaign_id, CampaignStatus.PAUSED)


@sms.command()
@click.argument("campaign_id", type=int)
@click.option("--detach", is_flag=True, help="Only mark it running; don't drive it from here.")
@click.option("--json", "as_json", is_flag=True)
def resume(campaign_id: int, detach: bool, as_json: bool) -> None:
    """Continue a paused or interrupted campaign: whatever is not sent yet is sent, nothing twice."""
    ctx = _control(campaign_id, CampaignStatus.RUNNING)
    if not detach:
        _drive_with_progress(ctx, campaign_id, as_json)


@sms.command()
@click.argument("campaign_id", type=int)
def cancel(campaign_id: int) -> None:
    """Cancel: messages not yet sent expire."""
    _control(campaign_id, CampaignStatus.CANCELLED)


@sms.command("run")
def run_command() -> None:
    """Drive every running or scheduled campaign until stopped (for campaigns made through the HTTP API)."""
    run_forever(_context())


@sms.command()
@click.argument("phone")
@click.argument("carrier")
def ported(phone: str, carrier: str) -> None:
    """Record that PHONE was ported to CARRIER (routes SMS to that carrier from now on)."""
    ctx = _context()
    try:
        number = normalize(phone).e164
    except InvalidPhone as exc:
        raise click.ClickException(exc.reason) from None
    with ctx.engine.begin() as connection:
        changed = connection.execute(update(SmsRouteOverride).where(SmsRouteOverride.phone == number).values(
            carrier=carrier, updated_at=utcnow())).rowcount
        if not changed:
            connection.execute(insert(SmsRouteOverride).values(phone=number, carrier=carrier, updated_at=utcnow()))
    click.echo(f"{number[:4]}…{number[-2:]} -> {carrier}")
