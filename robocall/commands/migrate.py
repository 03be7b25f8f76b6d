"""`robocall migrate`: bring the database's schema up to this version (robocall.migrate.upgrade).

`robocall serve` and the commands that write migrate on start too; during an upgrade of several hosts
this runs once, before any new process starts (docs/deploy.md, "Upgrades")."""

from __future__ import annotations

import click

from robocall.config import get_settings
from robocall.db import make_engine
from robocall.migrate import current_heads, script_heads, up_to_date, upgrade


@click.command("migrate")
@click.option("--check", is_flag=True, help="Only say whether the schema is current (exit 1 when it is not).")
def migrate(check: bool) -> None:
    """Cập nhật cấu trúc cơ sở dữ liệu / Upgrade the database schema to this version."""
    engine = make_engine(get_settings().database_url)
    try:
        before, heads = current_heads(engine), script_heads()
        if check:
            current = up_to_date(before)
            click.echo(f"{'Đã cập nhật' if current else 'Cần cập nhật'} ({'current' if current else 'behind'}): "
                       f"{', '.join(before) or '-'} / {', '.join(heads)}")
            raise SystemExit(0 if current else 1)
        upgrade(engine)
        after = current_heads(engine)
    finally:
        engine.dispose()
    click.echo(f"Cơ sở dữ liệu: {', '.join(before) or '(trống / empty)'} -> {', '.join(after)} (database schema)")
