"""Shared fixtures: a fresh database per test, a clean Redis DB, fresh settings.

Database backend: SQLite by default; ``ROBOCALL_TEST_DB=postgresql`` gives each
test a throwaway PostgreSQL database created through the admin connection
``TEST_POSTGRES_URL`` (scripts/run_tests.sh does that for tests marked ``db``).
Tests using ``db_url`` or ``db_engine`` are marked ``db`` automatically.

Redis is real, never mocked: tests use DB number ``TEST_REDIS_DB`` of the server
in ``REDIS_URL`` and fail (not skip) when it does not answer.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from hypothesis import settings as hypothesis_settings
from log_leaks import PhoneLeaks
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from robocall.config import Settings, reset_settings
from robocall.db import make_engine, normalize_url
from robocall.flows.catalog import forget_loaded_flows
from robocall.wiring import wire

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://robocall_test:robocall_test@127.0.0.1:5432/postgres"
TEST_REDIS_DB = int(os.environ.get("ROBOCALL_TEST_REDIS_DB", "15"))  # a separate number per parallel run
DB_FIXTURES = {"db_url", "db_engine"}

# Fuzzing profiles (hypothesis).  `ci` (scripts/run_tests.sh, i.e. `make test` and CI): derandomized, so a
# run finds what the previous one found and a failure is reproducible from the log; no example database
# (nothing carried between runs) and no deadline (2 shared cores).  `dev`: random examples, saved ones
# replayed.  Each fuzz test bounds its own `max_examples` so the whole fuzz set stays within its budget.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config: pytest.Config) -> None:
    selected_db_backend()  # a bad ROBOCALL_TEST_DB stops the run before any test
    # Every record of every level is made and checked for phone numbers (PhoneLeaks below).
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger().addHandler(PHONE_LEAKS)


# --- phone numbers in logs -----------------------------------------------------


PHONE_LEAKS = PhoneLeaks()


@pytest.fixture(autouse=True)
def _no_phone_in_logs() -> Iterator[None]:
    """Fails the test that logged a phone number our masking lets through (whatever the level)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)  # a test that configured logging left its level behind
    if PHONE_LEAKS not in root.handlers:
        root.addHandler(PHONE_LEAKS)
    before = len(PHONE_LEAKS.leaks)
    yield
    leaked = PHONE_LEAKS.leaks[before:]
    del PHONE_LEAKS.leaks[before:]
    if leaked:
        pytest.fail("phone numbers in the logs:\n" + "\n".join(leaked[:10]), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if PHONE_LEAKS.leaks:
        print("\nphone numbers in the logs, outside any test:\n" + "\n".join(PHONE_LEAKS.leaks[:10]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # So `pytest -m db` (the PostgreSQL rerun) can't miss a database test.
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if DB_FIXTURES & fixtures:
            item.add_marker(pytest.mark.db)
        if "browser" in fixtures:  # Chromium drives the page (tests/web/test_browser.py's fixture)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _fresh_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test reads settings and flows anew, so monkeypatched env vars and flow files take effect.
    A test that never asks for a database still gets a throwaway one, never the checkout's var/robocall.db."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('db') / 'robocall.db'}")
    reset_settings()
    forget_loaded_flows()
    yield
    reset_settings()
    forget_loaded_flows()


# --- databases ---------------------------------------------------------------


def selected_db_backend() -> str:
    backend = os.environ.get("ROBOCALL_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if backend not in {"sqlite", "postgresql"}:
        raise pytest.UsageError(f"ROBOCALL_TEST_DB must be sqlite or postgresql, not {backend!r}")
    return backend


@pytest.fixture
def db_backend() -> str:
    """The database backend tests run on: "sqlite" or "postgresql"."""
    return selected_db_backend()


def _postgres_admin_engine() -> Engine:
    url = normalize_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    # CREATE/DROP DATABASE can't run inside a transaction; NullPool so no
    # admin connection lingers on after the test.
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _create_postgres_database(admin: Engine, name: str) -> None:
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"ROBOCALL_TEST_DB=postgresql but cannot create a database via "
            f"{admin.url.render_as_string(hide_password=True)}: {exc}",
            pytrace=False,
        )


def _drop_postgres_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        # Connections the test leaked would make DROP DATABASE fail.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """URL of an empty database, used by this test only.

    Also set as DATABASE_URL, so code under test using get_settings() gets it.
    """
    if selected_db_backend() == "sqlite":
        yield from _use_database_url(f"sqlite:///{tmp_path / 'robocall-test.db'}", monkeypatch)
        return
    admin = _postgres_admin_engine()
    name = f"robocall_test_{uuid.uuid4().hex[:16]}"
    _create_postgres_database(admin, name)
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        yield from _use_database_url(url, monkeypatch)
    finally:
        _drop_postgres_database(admin, name)
        admin.dispose()


def _use_database_url(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings()
    yield url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test's empty database (see ``db_url``)."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()  # before db_url drops the database


# --- redis -------------------------------------------------------------------


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """URL of an empty Redis DB (number 15 of the configured server), flushed after.

    Also set as REDIS_URL, so code under test using get_settings() gets it.
    """
    url = make_url_with_redis_db(Settings().redis_url, TEST_REDIS_DB)
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        shown = re.sub(r"//[^@/]*@", "//***@", url)  # hide any password
        pytest.fail(
            f"Redis does not answer at {shown} ({exc}). Tests need a real Redis: "
            "run `make setup` (scripts/ensure_services.sh starts one).",
            pytrace=False,
        )
    client.flushdb()
    monkeypatch.setenv("REDIS_URL", url)
    reset_settings()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def make_url_with_redis_db(url: str, db: int) -> str:
    """``url`` pointing at Redis database number ``db`` instead of its own."""
    parts = urlsplit(url)
    # A ?db=N option would win over the path.
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
    return urlunsplit(parts._replace(path=f"/{db}", query=query))


@pytest.fixture
def migrated(db_engine: Engine) -> Engine:
    """A fresh database with the whole schema, built by the migrations."""
    from robocall.migrate import upgrade

    upgrade(db_engine)
    return db_engine


@pytest.fixture(autouse=True, scope="session")
def _wired() -> None:
    """The tests run parts of every process in this one: wire them as the composition roots do."""
    wire()
