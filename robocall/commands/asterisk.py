"""`robocall asterisk serve|check`: the Asterisk call service and a check of a deployment."""

from __future__ import annotations

import asyncio
import socket

import click
from prometheus_client import start_http_server

from robocall.audio.render import Renderer
from robocall.call_policy import policy_from_settings
from robocall.campaigns.jobs import campaign_calls
from robocall.config import get_settings
from robocall.db import make_engine
from robocall.flows.catalog import flow_catalog
from robocall.logging_setup import configure_logging
from robocall.telephony.asterisk.ami import AmiClient, AmiError
from robocall.telephony.asterisk.prompts import RenderedPrompts
from robocall.telephony.asterisk.reconcile import open_attempts
from robocall.telephony.asterisk.service import AsteriskService
from robocall.telephony.asterisk.settings import service_config

REQUIRED_CONTEXTS = ("robocall-outbound", "robocall-hotline")


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
    handlers = campaign_calls(engine, flows, settings, policy_from_settings(settings))

    async def run() -> None:
        prompts = RenderedPrompts(Renderer(settings), flows, settings.asterisk_sounds_dir)
        await AsteriskService(config, handlers, prompts, lambda before: open_attempts(engine, before)).run_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@asterisk.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for Asterisk.")
def check(timeout: float) -> None:
    """Log in to AMI, look for robocall's dialplan contexts and the FastAGI server; say what is wrong."""
    settings = get_settings()
    problems = asyncio.run(_check(settings.asterisk_host, settings.asterisk_ami_port, settings.asterisk_ami_user,
                                  settings.asterisk_ami_secret, timeout))
    try:
        host, port = settings.asterisk_agi_listen
        with socket.create_connection((host if host != "0.0.0.0" else "127.0.0.1", port), timeout=3):
            click.echo(f"ok: the FastAGI server answers on {host}:{port}")
    except (OSError, ValueError) as exc:
        problems.append(f"the FastAGI server does not answer on {host}:{port} ({exc}): "
                        "start `robocall asterisk serve`")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    raise SystemExit(1 if problems else 0)


async def _check(host: str, port: int, user: str, secret: str, timeout: float) -> list[str]:
    if not secret:
        return ["ASTERISK_AMI_SECRET is empty"]
    client = AmiClient(host, port, user, secret, backoff=(timeout, timeout), name="check")
    await client.start(wait=None)
    problems = []
    try:
        await client.wait_ready(timeout)
        click.echo(f"ok: logged in to AMI at {host}:{port} as {user}")
        entries = await client.action_list("ShowDialPlan")
        contexts = {m.get("Context") for m in entries}
        for context in REQUIRED_CONTEXTS:
            if context in contexts:
                click.echo(f"ok: dialplan context {context}")
            else:
                problems.append(f"the dialplan has no context [{context}]: install extensions.conf from docs/asterisk.md")
        apps = {m.get("Application") for m in entries if m.get("Context") == "robocall-outbound"}
        if "AGI" not in apps and "robocall-outbound" in contexts:
            problems.append("[robocall-outbound] does not call AGI()")
    except AmiError as exc:
        problems.append(f"cannot use AMI at {host}:{port} as {user}: {exc} (check manager.conf: enabled, "
                        "bindaddr, permit, secret, read/write rights)")
    finally:
        await client.close()
    return problems
