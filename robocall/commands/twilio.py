"""`robocall twilio check` (credentials, caller id, webhook reachability) and `reconcile` (docs/twilio.md)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from robocall.campaigns.jobs import follow_up_mover
from robocall.config import get_settings
from robocall.conversations.resumable import ResumableCalls
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.telephony.twilio.check import run_checks
from robocall.telephony.twilio.reconcile import reconcile


@click.group()
def twilio() -> None:
    """Phone calls through Twilio Programmable Voice."""


@twilio.command("check")
def check() -> None:
    """Check the Twilio credentials, the caller id and that the webhooks are reachable at PUBLIC_BASE_URL."""
    checks = run_checks(get_settings())
    for item in checks:
        click.echo(f"{'OK ' if item.ok else 'FAIL'} {item.name}: {item.detail}")
    if not all(item.ok for item in checks):
        sys.exit(1)


@twilio.command("reconcile")
@click.option("--older-than", type=int, default=30, show_default=True, help="Minutes a call has been open.")
def reconcile_command(older_than: int) -> None:
    """Close calls whose final status callback never arrived, from Twilio's own record (run it from cron)."""
    settings = get_settings()
    calls = ResumableCalls(make_engine(settings.database_url), flow_catalog(settings).flows, settings.tzinfo,
                           after_outbound=follow_up_mover(settings))
    closed = reconcile(settings, calls, dt.timedelta(minutes=older_than))
    click.echo(f"{closed} calls closed")
