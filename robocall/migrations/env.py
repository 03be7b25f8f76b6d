"""Alembic environment: migrations run against the URL passed in by robocall.migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import robocall.accounts  # noqa: F401  (dashboard users and login attempts)
import robocall.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import robocall.sms_models  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    assert connection is not None, "run migrations through robocall.migrate.upgrade()"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
