"""Cells of a contact list: empty or not, and category/language values as the keys they are matched by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from robocall.tabular import header_key

_VALUE_CACHE_LIMIT = 10_000
_folded_values: dict[str, str] = {}


def fold_value(text: str) -> str:
    """``header_key`` for cell values, remembered: a list repeats the same few categories and languages."""
    folded = _folded_values.get(text)
    if folded is None:
        folded = header_key(text)
        if len(_folded_values) < _VALUE_CACHE_LIMIT:
            _folded_values[text] = folded
    return folded


def is_empty(value: Any) -> bool:
    """No cell, or one holding only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell(cells: Sequence[Any], index: int) -> Any:
    """The cell at ``index``; ``None`` when it is empty or the row is shorter."""
    value = cells[index] if index < len(cells) else None
    return None if is_empty(value) else value


def is_blank(cells: Sequence[Any]) -> bool:
    return all(is_empty(c) for c in cells)
