"""Subcommands of the `robocall` CLI."""

from __future__ import annotations

import click

from robocall.config import Settings, SettingsError, get_settings


class BadSettings(click.ClickException):
    """Unusable settings: the message, and exit status 2 like any other usage error, without a traceback."""

    exit_code = 2


def require_settings() -> Settings:
    """The settings, or the command stops with what is wrong in them."""
    try:
        return get_settings()
    except SettingsError as exc:
        raise BadSettings(f"settings (environment or .env):\n{exc}") from None
