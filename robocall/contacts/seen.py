"""The numbers an import has accepted so far, to refuse a number given twice in one list.

What grows with a list: one entry per accepted row.  A dict of E.164 strings to row numbers took
~125 bytes a row (222 MB of a 876,591-row import's peak); here a number is kept as an int in a set
(~70 bytes a row: 10,000,000 rows in ~700 MB), and the row that first gave it only for the first
:data:`ROWS_KEPT` rows (every list staff send in practice): past that, a duplicate is "of an earlier
row".  ``bench/contacts_dedup.py`` measures it.
"""

from __future__ import annotations

from robocall.text import bilingual

ROWS_KEPT = 200_000


class SeenNumbers:
    def __init__(self, rows_kept: int = ROWS_KEPT) -> None:
        self._numbers: set[int] = set()
        self._rows: dict[int, int] = {}
        self._rows_kept = rows_kept

    def __len__(self) -> int:
        return len(self._numbers)

    def duplicate(self, e164: str) -> str | None:
        """Why ``e164`` can't be imported again (it was accepted earlier in the list), or ``None``."""
        key = int(e164[1:])
        if key not in self._numbers:
            return None
        row = self._rows.get(key)
        if row is None:
            return bilingual("trùng với một hàng trước", "duplicate of an earlier row")
        return bilingual(f"trùng với hàng {row}", f"duplicate of row {row}")

    def add(self, e164: str, row: int) -> None:
        key = int(e164[1:])
        self._numbers.add(key)
        if len(self._rows) < self._rows_kept:
            self._rows[key] = row
