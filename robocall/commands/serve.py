"""`robocall serve`: start the HTTP server."""

from __future__ import annotations

import click

from robocall.commands import require_settings
from robocall.logging_setup import configure_logging
from robocall.web.app import run
from robocall.wiring import wire


@click.command()
@click.option("--port", default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def serve(port: int, host: str) -> None:
    """Serve the CDC dashboard, its JSON API, flows and health (log in: README, "The CDC dashboard")."""
    settings = require_settings()  # `python server.py` does not pass through the group
    wire()
    configure_logging(settings.log_level, fmt=settings.log_format)
    run(port, host)
