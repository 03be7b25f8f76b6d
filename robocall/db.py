"""Database engines for SQLite and PostgreSQL (psycopg 3), and the helpers both dialects share.

The application's schema is made and upgraded by alembic (robocall.migrate); ``create_all`` is for
tables of tests and tools that are not part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import SQLModel, create_engine

# SQLAlchemy's bare "postgresql://" means psycopg2, which we don't ship;
# "postgres://" is what Heroku-style providers hand out.
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")
_POSTGRES_DRIVER = "postgresql+psycopg://"

# How long a SQLite writer waits for another process's lock before failing.
_SQLITE_BUSY_TIMEOUT_MS = 5000


def normalize_url(url: str) -> str:
    """Make PostgreSQL URLs use psycopg 3; other URLs are returned unchanged."""
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return _POSTGRES_DRIVER + url[len(prefix) :]
    return url


# PostgreSQL arrays travel as one text parameter, split by the server (string_to_array): psycopg dumps a
# Python list element by element, far dearer than one join (docs/performance.md).  The
# separator is the ASCII unit separator, which no phone number, id or carrier text contains (it is
# replaced by "?" should one ever do).
ARRAY_SEPARATOR = "\x1f"
_NULL = "\x1e"  # an item that is None (SQL NULL)


def joined(values: Iterable[object]) -> str:
    """`values` as the text parameter of :func:`array_sql`.  Each item is preceded
    by the separator, so that one empty string stays an array of one element (string_to_array('')
    is the empty array; the SQL drops the empty first element).  None stands for NULL."""
    items = [_NULL if v is None else str(v) for v in values]
    text = ARRAY_SEPARATOR.join(items)
    if text.count(ARRAY_SEPARATOR) != len(items) - 1:  # an item holds the separator itself
        text = ARRAY_SEPARATOR.join(item.replace(ARRAY_SEPARATOR, "?") for item in items)
    return ARRAY_SEPARATOR + text if items else ""


def array_sql(name: str, sql_type: str) -> str:
    """SQL for the PostgreSQL array of `sql_type` passed as `joined(...)` in parameter `name`."""
    return f"CAST((string_to_array(:{name}, chr(31), chr(30)))[2:] AS {sql_type}[])"


def autocommit(engine: Engine) -> Connection:
    """A connection on which every statement commits at once (use it as a context manager): a single
    statement or a few independent ones go without the BEGIN and COMMIT/ROLLBACK round trips, which
    cost CPU on both sides for every chunk."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def hold_lock(connection: Connection, name: str, idle_timeout_seconds: int = 0) -> None:
    """Take the lock `name` for the rest of `connection`'s transaction (call it first in the transaction):
    one holder at a time, the others wait.  PostgreSQL: a transaction-scoped advisory lock, which the
    server frees when the holder's connection closes (its process killed); with `idle_timeout_seconds`
    it also ends a holder that went silent in the transaction (its host cut off) after that long.
    SQLite: the database's write lock taken at once (BEGIN IMMEDIATE), freed when the process dies."""
    if connection.dialect.name == "postgresql":
        if idle_timeout_seconds:
            connection.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {int(idle_timeout_seconds) * 1000}")
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; extra keyword arguments go to ``create_engine``."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _make_sqlite_engine(url, **kwargs)
    # pre_ping: drop connections PostgreSQL closed (restarts, idle timeouts).
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _make_sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
    if database and not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # The web server and workers use threads; SQLite's default forbids sharing.
    connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection(wal=not in_memory))
    return engine


def _configure_sqlite_connection(wal: bool) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers (dashboard) proceed while a worker writes.
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    return on_connect


def create_all(engine: Engine, metadata: MetaData | None = None) -> None:
    """Create all tables of ``metadata`` (default: every imported SQLModel table) that do not exist yet."""
    (metadata or SQLModel.metadata).create_all(engine)


def dialect_insert(bind: Engine | Connection, table: Any) -> Any:
    """``INSERT`` for the bind's dialect, which offers ``on_conflict_do_nothing/update`` on both of ours."""
    return (postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert)(table)
