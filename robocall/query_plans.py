"""What the database does with the statements a piece of code runs: capture them, EXPLAIN each, and
name the full scans of the big tables (those that grow with the province's contacts and messages).

Used by `bench/explain_dashboard.py` (every dashboard page at a million contacts) and by the suite's
small version of it (tests/web/test_query_plans.py).  A statement is captured through SQLAlchemy's
`before_cursor_execute` event on every engine of the process, with the parameters it ran with, so the
plan explained is the plan of the very query the page ran.

SQLite's EXPLAIN QUERY PLAN says `SCAN <table>` when it reads a table from end to end (with `USING
INDEX` / `USING COVERING INDEX` when it walks a whole index instead): that is reliable whatever the
number of rows.  PostgreSQL chooses a sequential scan whenever it is cheaper, which it is on a small
table: there a scan is only suspect when it throws most rows away (`Rows Removed by Filter`, from
EXPLAIN ANALYZE), or when it remains with `enable_seqscan` off (no index can serve the query at all).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# The tables that grow with the province: a full scan of one is slow at a million contacts.
BIG_TABLES = frozenset({
    "contact", "callattempt", "answer", "escalation", "escalationevent", "followup", "casetask",
    "smsmessage", "smsmessagepart", "smsinvalidrecipient", "auditlog",
})
SMALL_TABLE_ROWS = 10_000  # PostgreSQL reads a table this small whole rather than through an index, rightly
_LIMIT = re.compile(r"\bLIMIT\b", re.IGNORECASE)
_SQLITE_SCAN = re.compile(r"^SCAN (\w+)(?: AS \w+)?(?P<index> USING (?:COVERING )?INDEX \w+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    sql: str  # as sent to the driver (its placeholders)
    parameters: Any

    @property
    def head(self) -> str:
        """The statement on one line, shortened: enough to recognise it in a report."""
        return " ".join(self.sql.split())[:160]


@dataclass
class Captured:
    statements: list[Statement] = field(default_factory=list)

    def distinct(self) -> list[Statement]:
        """Each statement text once (with the parameters of its first run), in the order first run."""
        seen: dict[str, Statement] = {}
        for s in self.statements:
            seen.setdefault(s.sql, s)
        return list(seen.values())


_capture_lock = threading.Lock()


@contextmanager
def capture_statements() -> Iterator[Captured]:
    """Every SELECT any engine of this process sends while the block runs (threads included: the web
    app runs its queries in a pool).  Writes (the audit rows a page adds) are not plans to check."""
    captured = Captured()

    def before(_conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        if not executemany and statement.lstrip()[:4].upper() in ("SELE", "WITH"):
            with _capture_lock:
                captured.statements.append(Statement(statement, parameters))

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield captured
    finally:
        event.remove(Engine, "before_cursor_execute", before)


@dataclass
class Scan:
    table: str
    how: str  # "table" (every row read), "index" (a whole index read) or "walk" (in order, up to a LIMIT)
    detail: str  # the plan's own words

    def __str__(self) -> str:
        return f"{self.table}: {self.detail}" + (" (up to the LIMIT)" if self.how == "walk" else "")


@dataclass
class Plan:
    statement: Statement
    text: str  # the plan, as the database prints it
    scans: list[Scan]  # full scans of BIG_TABLES
    milliseconds: float | None = None  # PostgreSQL with analyze: the execution time


def explain(connection: Connection, statement: Statement, *, analyze: bool = False,
            big_tables: frozenset[str] = BIG_TABLES) -> Plan:
    """The plan of `statement` with its own parameters.  `analyze` (PostgreSQL) runs it and reports
    the rows each scan threw away; a sequential scan is only listed when it threw most of them away,
    or with `analyze` off when the scan is planned at all (use with `enable_seqscan` off)."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement.sql}", _params(statement)).all()
        details = [str(r[3]) for r in rows]
        return Plan(statement, "\n".join(details), sqlite_scans(details, big_tables, statement.sql))
    options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    raw = connection.exec_driver_sql(f"EXPLAIN ({options}) {statement.sql}", _params(statement)).scalar()
    document = raw if isinstance(raw, list) else json.loads(str(raw))
    root = document[0]
    return Plan(statement, postgresql_text(root["Plan"]), postgresql_scans(root["Plan"], big_tables, analyze),
                root.get("Execution Time"))


def _params(statement: Statement) -> Any:
    parameters = statement.parameters
    return tuple(parameters) if isinstance(parameters, list) else parameters


def sqlite_scans(details: Sequence[str], big_tables: frozenset[str] = BIG_TABLES, sql: str = "") -> list[Scan]:
    """Scans of big tables in SQLite's plan.  A scan in the order a LIMIT wants (no sort step in the plan)
    stops at the limit: it is a "walk", not a read of the table (the newest 300 audit entries)."""
    ordered_walk = bool(_LIMIT.search(sql)) and not any("TEMP B-TREE" in d for d in details)
    scans = []
    for detail in details:
        match = _SQLITE_SCAN.match(detail.strip())
        if match and match.group(1).lower() in big_tables:
            how = "walk" if ordered_walk else "index" if match.group("index") else "table"
            scans.append(Scan(match.group(1).lower(), how, detail.strip()))
    return scans


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def postgresql_scans(root: dict[str, Any], big_tables: frozenset[str] = BIG_TABLES, analyze: bool = False) -> list[Scan]:
    scans = []
    for node in _nodes(root):
        table = str(node.get("Relation Name", "")).lower()
        if node.get("Node Type") != "Seq Scan" or table not in big_tables:
            continue
        if analyze:
            kept = float(node.get("Actual Rows", 0)) * float(node.get("Actual Loops", 1) or 1)
            removed = float(node.get("Rows Removed by Filter", 0)) * float(node.get("Actual Loops", 1) or 1)
            if removed <= kept or kept + removed < SMALL_TABLE_ROWS:  # most of it wanted, or a few pages
                continue
            detail = f"Seq Scan on {table}: {kept:,.0f} rows kept, {removed:,.0f} thrown away"
        else:
            detail = f"Seq Scan on {table}" + (f" (filter {node['Filter']})" if node.get("Filter") else "")
        scans.append(Scan(table, "table", detail))
    return scans


def postgresql_text(node: dict[str, Any], depth: int = 0) -> str:
    """A short plan: node type, relation and index, actual rows when analysed; one line a node."""
    line = "  " * depth + str(node.get("Node Type"))
    if node.get("Relation Name"):
        line += f" on {node['Relation Name']}"
    if node.get("Index Name"):
        line += f" using {node['Index Name']}"
    if "Actual Rows" in node:
        line += f" (rows {node['Actual Rows']}, loops {node.get('Actual Loops', 1)})"
    if node.get("Rows Removed by Filter"):
        line += f" removed {node['Rows Removed by Filter']}"
    return "\n".join([line, *(postgresql_text(child, depth + 1) for child in node.get("Plans", ()))])


@contextmanager
def no_sequential_scans(connection: Connection) -> Iterator[Connection]:
    """PostgreSQL plans with `enable_seqscan` off: a sequential scan left is one no index can replace."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET enable_seqscan = off")
    try:
        yield connection
    finally:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = on")
