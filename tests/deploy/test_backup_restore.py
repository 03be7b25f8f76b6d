"""The backup and restore steps of docs/deploy.md, run as written: pg_dump in the custom format,
pg_restore into a new database, `robocall migrate --check`, and the data is all there.

Always on PostgreSQL (what production runs), through the test server's admin connection."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session as DbSession

from robocall.cli import cli
from robocall.config import reset_settings
from robocall.db import make_engine, normalize_url
from robocall.migrate import upgrade
from robocall.models import AuditLog, Contact
from robocall.sms_models import SmsCampaign, SmsMessage

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://robocall_test:robocall_test@127.0.0.1:5432/postgres")


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    admin = create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    names = [f"robocall_backup_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(admin.url.set(database=name).render_as_string(hide_password=False) for name in names)  # type: ignore[misc]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                                   {"n": name})
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def libpq(url: str) -> str:
    """What pg_dump and pg_restore take: the URL without SQLAlchemy's driver name."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def figures(engine: Engine) -> tuple[int, int, int, list[str]]:
    with DbSession(engine) as db:
        return (db.scalar(select(func.count()).select_from(Contact)) or 0,
                db.scalar(select(func.count()).select_from(SmsMessage)) or 0,
                db.scalar(select(func.count()).select_from(AuditLog)) or 0,
                sorted(c.name for c in db.exec(select(Contact)).scalars()))  # type: ignore[call-overload]


def test_pg_dump_then_pg_restore_gives_back_a_current_database(two_databases, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    source_url, target_url = two_databases
    assert shutil.which("pg_dump") and shutil.which("pg_restore"), "install postgresql-client"
    source = make_engine(source_url)
    upgrade(source)
    with DbSession(source) as db:
        db.add_all([Contact(phone=f"+8491200000{i}", name=f"Người {i}", category="F1") for i in range(5)])
        campaign = SmsCampaign(template="Xin chào")
        db.add(campaign)
        db.flush()
        db.add_all([SmsMessage(campaign_id=campaign.id or 0, phone=f"+8491300000{i}") for i in range(7)])
        db.add(AuditLog(actor="test", action="seed"))
        db.commit()
    expected = figures(source)
    source.dispose()

    dump = tmp_path / "robocall.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq(source_url)],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(target_url)}", str(dump)],
                   check=True, capture_output=True, timeout=120)

    monkeypatch.setenv("DATABASE_URL", target_url)
    reset_settings()
    check = CliRunner().invoke(cli, ["migrate", "--check"])
    assert check.exit_code == 0, check.output
    target = make_engine(target_url)
    try:
        assert figures(target) == expected
        with DbSession(target) as db:  # the sequences came along: new rows get new ids
            db.add(Contact(phone="+84912999999", name="mới"))
            db.commit()
    finally:
        target.dispose()
