"""`robocall twilio check`: credentials, caller id and webhook reachability (docs/twilio.md)."""

from __future__ import annotations

import sys

import click

from robocall.config import get_settings
from robocall.telephony.twilio.check import run_checks


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
