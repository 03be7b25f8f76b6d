"""Engine factory: URL handling, SQLite pragmas, and a round trip on the test backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, select

from robocall.db import create_all, make_engine, normalize_url


class _TestTable(SQLModel, registry=registry()):
    """Base with its own registry, keeping these tables out of SQLModel.metadata."""


_test_tables = _TestTable.metadata


class Household(_TestTable, table=True):
    __tablename__ = "test_household"

    id: int | None = Field(default=None, primary_key=True)
    district: str


class Contact(_TestTable, table=True):
    __tablename__ = "test_contact"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="test_household.id")
    phone: str


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///var/robocall.db", "sqlite:///var/robocall.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_postgres_url_gets_psycopg3_driver() -> None:
    # Building an engine does not connect, so no server is needed here.
    engine = make_engine("postgres://someone@db.invalid/robocall")
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"


def _pragma(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar()


def test_sqlite_file_engine_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    db_file = tmp_path / "var" / "nested" / "robocall.db"
    engine = make_engine(f"sqlite:///{db_file}")
    try:
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engine, "busy_timeout") == 5000
        assert db_file.exists()
    finally:
        engine.dispose()


def test_sqlite_in_memory_engine_enforces_foreign_keys() -> None:
    engine = make_engine("sqlite://")
    try:
        assert _pragma(engine, "foreign_keys") == 1
        assert _pragma(engine, "journal_mode") == "memory"  # WAL is meaningless here
    finally:
        engine.dispose()


@pytest.mark.db
def test_engine_uses_selected_backend(db_engine: Engine, db_backend: str) -> None:
    assert db_engine.dialect.name == db_backend
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


@pytest.mark.db
def test_insert_and_read_back(db_engine: Engine) -> None:
    create_all(db_engine, _test_tables)
    with Session(db_engine) as session:
        household = Household(district="Quận 1")
        session.add(household)
        session.commit()
        session.add(Contact(household_id=household.id, phone="+84912345678"))
        session.commit()

    with Session(db_engine) as session:
        rows = session.exec(
            select(Household.district, Contact.phone).join(
                Contact, Contact.household_id == Household.id
            )
        ).all()
    assert [tuple(row) for row in rows] == [("Quận 1", "+84912345678")]


@pytest.mark.db
def test_foreign_keys_are_enforced(db_engine: Engine) -> None:
    create_all(db_engine, _test_tables)
    with Session(db_engine) as session:
        session.add(Contact(household_id=424242, phone="+84912345678"))
        with pytest.raises(IntegrityError):
            session.commit()


@pytest.mark.db
def test_create_all_is_idempotent(db_engine: Engine) -> None:
    create_all(db_engine, _test_tables)
    create_all(db_engine, _test_tables)
    create_all(db_engine)  # the application's own tables, whatever exists so far
    with Session(db_engine) as session:
        assert session.exec(select(Household)).all() == []


@pytest.mark.db
@pytest.mark.parametrize("values", [[], [""], ["a", "", None, "b"], ["id\x1fwith separator", "c"], ["x"] * 3])
def test_joined_arrays_keep_every_item(db_engine: Engine, values: list[str | None]) -> None:
    """Arrays travel as one joined text parameter on PostgreSQL: empty strings, NULLs and a stray
    separator keep their place, and `= ANY` of such an array matches exactly the listed values."""
    from robocall.db import array_sql, joined

    if db_engine.dialect.name != "postgresql":
        pytest.skip("arrays are PostgreSQL's (SQLite gets the values one by one)")
    with db_engine.begin() as connection:
        connection.execute(text("CREATE TEMPORARY TABLE words (id INTEGER, word VARCHAR)"))
        connection.execute(text("INSERT INTO words VALUES (1, 'a'), (2, ''), (3, 'b'), (4, 'c'), (5, 'zz')"))
        wanted = [v for v in values if v is not None]
        found = connection.execute(text(f"SELECT id FROM words WHERE word = ANY({array_sql('p', 'varchar')})"
                                         " ORDER BY id"), {"p": joined(wanted)}).scalars().all()
        assert found == [i for i, w in ((1, "a"), (2, ""), (3, "b"), (4, "c"), (5, "zz")) if w in wanted]
        back = connection.execute(text(f"SELECT {array_sql('p', 'text')}"), {"p": joined(values)}).scalar()
        assert back == [v.replace("\x1f", "?") if v else v for v in values]
        numbers = connection.execute(text(f"SELECT {array_sql('p', 'bigint')}"), {"p": joined([3, 1, 2])}).scalar()
        assert numbers == [3, 1, 2]
