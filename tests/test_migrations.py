"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import robocall.accounts  # noqa: F401  (registers the tables)
import robocall.models  # noqa: F401
from robocall.migrate import upgrade


def test_upgrade_creates_every_table_and_matches_the_models(db_engine: Engine) -> None:
    upgrade(db_engine)
    upgrade(db_engine)  # a second run is a no-op
    tables = set(inspect(db_engine).get_table_names())
    assert {"contact", "callcampaign", "callattempt", "answer", "escalation", "escalationevent", "followup",
            "auditlog", "user", "loginattempt", "alembic_version"} <= tables
    with db_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
