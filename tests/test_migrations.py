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


def test_receipts_still_find_messages_accepted_before_the_carrier_id_table(db_engine: Engine) -> None:
    """0006 moved receipt matching to smsmessagepart: messages accepted under 0005 are copied there."""
    import datetime as dt

    from sqlalchemy import text

    from sms.gateways.base import Receipt
    from sms.receipts import record_receipts

    upgrade(db_engine, "0005")
    now = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)
    _accepted_message(db_engine, now)  # message 7, carrier id C42
    upgrade(db_engine)
    assert record_receipts(db_engine, "vnpt", [Receipt("C42", "delivered", "", now)]) == 1
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT state FROM smsmessage")).scalar() == "delivered"


def test_message_pages_leave_room_for_hot_updates_on_postgresql(db_engine: Engine) -> None:
    """0007: smsmessage's pages are filled to 40 % so that a message's state changes stay on its page."""
    import pytest
    from sqlalchemy import text

    from robocall.sms_models import FILLFACTOR

    if db_engine.dialect.name != "postgresql":
        pytest.skip("fillfactor is a PostgreSQL storage parameter")
    upgrade(db_engine)
    with db_engine.connect() as connection:
        options = connection.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'smsmessage'")).scalar()
    assert options == [f"fillfactor={FILLFACTOR}"]


def test_carrier_id_rows_repeated_before_0009_are_kept_once(db_engine: Engine) -> None:
    """0009 keys smsmessagepart by (gateway, carrier id, part, message): repeated rows go, receipts still match."""
    import datetime as dt

    from sqlalchemy import text

    from sms.gateways.base import Receipt
    from sms.receipts import record_receipts

    upgrade(db_engine, "0008")
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    _accepted_message(db_engine, now)
    with db_engine.begin() as connection:
        for _ in range(2):
            connection.execute(text("INSERT INTO smsmessagepart (message_id, gateway, gateway_message_id, part)"
                                    " VALUES (7, 'vnpt', 'C42', 1)"))
    upgrade(db_engine)
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM smsmessagepart")).scalar() == 1
    assert record_receipts(db_engine, "vnpt", [Receipt("C42", "delivered", "", now)]) == 1


def _accepted_message(engine: Engine, now: object) -> None:
    """Campaign 1 with message 7, accepted with carrier id C42, written as any revision since 0005 allows."""
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO smscampaign (id, name, template, strip_accents, source, status, created_at, recipients,"
            " invalid, duplicates, opted_out, kind) VALUES (1, '', 'x', false, '', 'running', :now, 1, 0, 0, 0,"
            " 'broadcast')"), {"now": now})
        connection.execute(text(
            "INSERT INTO smsmessage (id, campaign_id, phone, carrier, gateway, purpose, encoding, segments, state,"
            " attempts, reason, gateway_message_id, queued_at, accepted_at) VALUES (7, 1, '+84912345678',"
            " 'Vinaphone', 'vnpt', '', 'GSM-7', 1, 'accepted', 1, '', 'C42', :now, :now)"), {"now": now})
