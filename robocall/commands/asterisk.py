"""`robocall asterisk serve|check`: the Asterisk call service and a check of a deployment."""

from __future__ import annotations

import asyncio

import click
from prometheus_client import start_http_server

from robocall.audio.render import Renderer
from robocall.call_policy import policy_from_settings
from robocall.campaigns.jobs import campaign_calls
from robocall.config import get_settings
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.logging_setup import configure_logging
from robocall.telephony.asterisk.check import run_checks
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import open_attempts
from robocall.telephony.asterisk.service import AsteriskService
from robocall.telephony.asterisk.settings import service_config


@click.group()
def asterisk() -> None:
    """Real phone calls through Asterisk (TELEPHONY_BACKEND=asterisk)."""


@asterisk.command()
def serve() -> None:
    """Run the FastAGI server and the AMI listener that record every Asterisk call (one process)."""
    settings = get_settings()
    configure_logging(settings.log_level, fmt=settings.log_format)
    if settings.metrics_listen:  # its FastAGI sessions, for Prometheus on the admin network (docs/deploy.md)
        start_http_server(settings.metrics_listen[1], settings.metrics_listen[0])
    try:
        config = service_config(settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    flows = flow_catalog(settings).flows
    engine = make_engine(settings.database_url)
    handlers = campaign_calls(engine, flows, settings, policy_from_settings(settings), backend="asterisk")

    async def run() -> None:
        prompts = RenderedPrompts(Renderer(settings), flows, settings.asterisk_sounds_dir)
        await AsteriskService(config, handlers, prompts, lambda before: open_attempts(engine, before)).run_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@asterisk.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each Asterisk.")
def check(timeout: float) -> None:
    """Check every Asterisk server (AMI login, dialplan, FastAGI reached from it); say what is wrong."""
    findings = run_checks(get_settings(), timeout)
    for finding in findings:
        click.echo(finding.line(), err=not finding.ok)
    raise SystemExit(0 if all(f.ok for f in findings) else 1)
