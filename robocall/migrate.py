"""Schema migrations (alembic), run from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database at `engine` to `revision` (default: every branch's newest schema)."""
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database at `engine` back to `revision` (bench/explain_dashboard.py times the pages
    without the newest indexes this way)."""
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer's tool: review the file it writes)."""
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def current_heads(engine: Engine) -> list[str]:
    """The revisions the database is at (empty: never migrated)."""
    with engine.connect() as connection:
        return sorted(MigrationContext.configure(connection).get_current_heads())


def script_heads() -> list[str]:
    """The newest revision of each branch this version of the code brings."""
    return sorted(ScriptDirectory.from_config(_config_without_engine()).get_heads())


def up_to_date(current: list[str]) -> bool:
    """Whether a database at `current` has every revision of the code: each head is one of them or
    below one (a branch another revision depends on counts as below it: alembic then keeps only the
    dependent revision in the database)."""
    reached = {revision.revision for revision in
               ScriptDirectory.from_config(_config_without_engine()).revision_map.iterate_revisions(
                   tuple(current), "base")} if current else set()
    return set(script_heads()) <= reached


def _config_without_engine() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
