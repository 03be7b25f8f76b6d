"""Subcommands of the `robocall` CLI."""
