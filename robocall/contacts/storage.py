"""Writing contacts: batched upserts keyed by the normalised phone number, on SQLite or PostgreSQL.

Re-importing a list updates the contacts (only the fields the file has columns
for) and never duplicates them; ``opted_out`` is never touched by an update.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from robocall.call_policy import CallPolicy
from robocall.contacts.columns import FIELDS, Columns
from robocall.contacts.report import ImportFileError, ImportReport
from robocall.models import Category, Contact, contact_search_keys, utcnow
from robocall.text import bilingual

_IN_CHUNK = 500  # numbers per "phone IN (...)" lookup: far below any bind-parameter limit


class ContactWriter:
    """Upserts batches of contacts; counts new and updated ones."""

    def __init__(self, engine: Engine, columns: Columns, source_list: str, policy: CallPolicy, today: dt.date,
                 report: ImportReport) -> None:
        self.engine = engine
        self.table: Table = Contact.__table__  # type: ignore[attr-defined]
        self.columns = columns
        self.source_list = source_list
        self.policy = policy
        self.today = today
        self.report = report
        # On update, only what the file says: a list without a district column keeps the districts known.
        # (The phone is the conflict key, never updated.)
        self.updated_columns = [
            name for name in FIELDS if name != "phone" and columns.used(name)
        ] + ["monitoring_end", "carrier", "alt_phone", "phone_kind", "source_list", "updated_at"] + (
            ["name_folded", "given_folded"] if columns.used("name") else [])

    def write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        try:
            with self.engine.begin() as connection:
                existing = self._existing(connection, [row["phone"] for row in batch])
                now = utcnow()
                rows = [self._row(values, existing.get(values["phone"]), now) for values in batch]
                connection.execute(self._upsert(connection), rows)
        except (SQLAlchemyError, ValueError) as exc:
            # Never the driver's message: it quotes the batch's parameters, phone numbers included.
            done = self.report.inserted + self.report.updated
            raise ImportFileError(
                f"cơ sở dữ liệu từ chối một lô {len(batch)} hàng ({type(exc).__name__}); {done} hàng trước đó đã"
                f" được lưu / the database refused a batch of {len(batch)} rows ({type(exc).__name__});"
                f" the {done} rows before it are stored") from None
        self.report.updated += len(existing)
        self.report.inserted += len(batch) - len(existing)
        self.report.monitoring_over += sum(
            1 for row in rows if row["monitoring_end"] is not None and row["monitoring_end"] < self.today
        )

    def _existing(self, connection: Connection, phones: list[str]) -> dict[str, tuple[str, dt.date | None]]:
        # Category and date already known: a file without those columns keeps them for the monitoring end.
        table = self.table
        found: dict[str, tuple[str, dt.date | None]] = {}
        for start in range(0, len(phones), _IN_CHUNK):
            query = select(table.c.phone, table.c.category, table.c.exposure_date).where(
                table.c.phone.in_(phones[start : start + _IN_CHUNK])
            )
            for phone, category, exposure_date in connection.execute(query):
                found[phone] = (category, exposure_date)
        return found

    def _row(self, values: dict[str, Any], old: tuple[str, dt.date | None] | None, now: dt.datetime) -> dict[str, Any]:
        old_category, old_date = old if old else (Category.OTHER.value, None)
        category = values.get("category", old_category)
        exposure_date = values["exposure_date"] if self.columns.used("exposure_date") else old_date
        return contact_search_keys({
            "phone": values["phone"],
            "name": values.get("name", ""),
            "category": str(category),
            "district": values.get("district", ""),
            "commune": values.get("commune", ""),
            "address": values.get("address", ""),
            "birth_year": values.get("birth_year"),
            "notes": values.get("notes", ""),
            "alt_phone": values.get("alt_phone", ""),
            "phone_kind": values.get("phone_kind", "mobile"),
            "exposure_date": exposure_date,
            "monitoring_end": self.policy.monitoring_end(str(category), exposure_date),
            "language": values.get("language", "vi"),
            "carrier": values.get("carrier", ""),
            "opted_out": False,
            "opted_out_at": None,
            "source_list": self.source_list,
            "created_at": now,
            "updated_at": now,
        })

    def _upsert(self, connection: Connection) -> Any:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            insert = postgresql.insert(self.table)
        elif dialect == "sqlite":
            insert = sqlite.insert(self.table)
        else:  # pragma: no cover - the project runs on these two
            raise ImportFileError(bilingual(f"nhập danh sách liên hệ không hỗ trợ cơ sở dữ liệu {dialect}",
                                            f"contact import does not support {dialect} databases"))
        return insert.on_conflict_do_update(
            index_elements=[self.table.c.phone],
            set_={name: insert.excluded[name] for name in self.updated_columns},
        )
