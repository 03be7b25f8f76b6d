"""The `robocall` command: one group per area, each defined in robocall/commands/."""

from __future__ import annotations

import click

from robocall import __version__
from robocall.commands.demo import demo
from robocall.commands.flows import flows


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="robocall")
def cli() -> None:
    """Robot calls and SMS for epidemic tracing (F1/F2 follow-up, returnees, hotline)."""


cli.add_command(flows)
cli.add_command(demo)


def main() -> None:
    cli()
