"""The `robocall` command: one group per area, each defined in robocall/commands/."""

from __future__ import annotations

import click

from robocall import __version__
from robocall.commands import require_settings
from robocall.commands.asterisk import asterisk
from robocall.commands.audio import audio
from robocall.commands.contacts import contacts
from robocall.commands.demo import demo
from robocall.commands.flows import flows
from robocall.commands.migrate import migrate
from robocall.commands.purge import purge_command
from robocall.commands.report import report
from robocall.commands.serve import serve
from robocall.commands.twilio import twilio
from robocall.commands.users import users
from robocall.wiring import wire
from robocall.worker_main import worker
from sms.cli import sms


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="robocall")
def cli() -> None:
    """Robot calls and SMS for epidemic tracing (F1/F2 follow-up, returnees, hotline)."""
    require_settings()  # parsed and checked once, before any command runs
    wire()


cli.add_command(flows)
cli.add_command(contacts)
cli.add_command(demo)
cli.add_command(report)
cli.add_command(worker)
cli.add_command(serve)
cli.add_command(sms)
cli.add_command(users)
cli.add_command(audio)
cli.add_command(asterisk)
cli.add_command(twilio)
cli.add_command(purge_command)
cli.add_command(migrate)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
