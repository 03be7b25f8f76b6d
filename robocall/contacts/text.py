"""Cell values as text, and the folded keys headers and values are matched by."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Any


def fold(text: str) -> str:
    """Lowercase ASCII letters and digits only: ``"Số ĐT (di động)"`` -> ``"sodt"``.

    Bracketed parts are dropped: they hold hints such as "(dd/mm/yyyy)".
    """
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", text.lower())


_VALUE_CACHE_LIMIT = 10_000
_folded_values: dict[str, str] = {}


def fold_value(text: str) -> str:
    """``fold`` for cell values, remembered: a list repeats the same few categories and languages."""
    folded = _folded_values.get(text)
    if folded is None:
        folded = fold(text)
        if len(_folded_values) < _VALUE_CACHE_LIMIT:
            _folded_values[text] = folded
    return folded


def cell_text(value: Any) -> str:
    """A cell as tidy text: NFC (names typed on a Mac or copied from the web can be NFD), single spaces.

    Also what the report quotes as the cell "as written".
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = unicodedata.normalize("NFC", str(value))
    return " ".join(text.split())


def is_empty(value: Any) -> bool:
    """No cell, or one holding only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell(cells: Sequence[Any], index: int) -> Any:
    """The cell at ``index``; ``None`` when it is empty or the row is shorter."""
    value = cells[index] if index < len(cells) else None
    return None if is_empty(value) else value


def is_blank(cells: Sequence[Any]) -> bool:
    return all(is_empty(c) for c in cells)
