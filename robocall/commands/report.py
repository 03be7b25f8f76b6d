"""`robocall report`: the provincial report from the database."""

from __future__ import annotations

import datetime as dt
import json

import click

from robocall.config import get_settings
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.migrate import upgrade
from robocall.reports import format_report, provincial_report


@click.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d", "%d/%m/%Y"]), default=None,
              help="First local day (YYYY-MM-DD or DD/MM/YYYY).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d", "%d/%m/%Y"]), default=None, help="Last local day.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              help="Language of the text report.")
@click.option("--district", "districts", multiple=True,
              help="Only the people of this district (repeat for several): a district officer's figures.")
def report(start: dt.datetime | None, end: dt.datetime | None, as_json: bool, lang: str,
           districts: tuple[str, ...]) -> None:
    """Figures for the provincial report: calls, hotline, escalations, non-reporting contacts."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    figures = provincial_report(engine, start.date() if start else None, end.date() if end else None,
                                settings.timezone, tuple(d.strip() for d in districts if d.strip()))
    if as_json:
        click.echo(json.dumps(figures.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(figures, flow_catalog(settings).vocabulary, lang))
