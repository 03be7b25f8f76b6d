"""Who must get no call and no SMS: numbers in the opt-out table (STOP / TU CHOI) and opted-out contacts.

One rule for every sender: a campaign's list, each chunk just before it is sent, and each single
message of the outbox.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col

from robocall.db import array_sql, joined
from robocall.models import Contact
from robocall.sms_models import SmsOptOut


def opted_out_numbers(connection: Connection) -> set[str]:
    """Numbers that must get nothing: opted-out contacts and the opt-out table."""
    numbers = set(connection.execute(select(col(SmsOptOut.phone))).scalars())
    numbers.update(connection.execute(select(col(Contact.phone)).where(col(Contact.opted_out))).scalars())
    return numbers


# Built once: every chunk a worker sends asks it, and building the statement costs more than running it.
_OPTED_OUT_AMONG: dict[str, Any] = {
    "postgresql": text(f"SELECT phone FROM smsoptout WHERE phone = ANY({array_sql('phones', 'varchar')}) UNION"
                       f" SELECT phone FROM contact WHERE phone = ANY({array_sql('phones', 'varchar')})"
                       " AND opted_out"),
    "sqlite": select(col(SmsOptOut.phone)).where(col(SmsOptOut.phone).in_(bindparam("phones", expanding=True))).union(
        select(col(Contact.phone)).where(col(Contact.phone).in_(bindparam("phones", expanding=True)),
                                         col(Contact.opted_out))),
}


def opted_out_among(db: Session | Connection, phones: list[str]) -> set[str]:
    """Which of `phones` must get nothing (the rule of :func:`opted_out_numbers`, for a few numbers:
    checked again just before sending, and for each single message)."""
    dialect = (db.get_bind() if isinstance(db, Session) else db).dialect.name
    if not phones:
        return set()
    value = joined(phones) if dialect == "postgresql" else phones
    return set(db.execute(_OPTED_OUT_AMONG[dialect], {"phones": value}).scalars())
