"""Reading DDMM# dates: the year is the one that puts the date nearest to today (schema.DateInput)."""

from __future__ import annotations

import datetime as dt

import pytest

from robocall.flows.engine import _read_date
from robocall.flows.schema import DateInput

TODAY = dt.date(2021, 8, 15)


@pytest.mark.parametrize(("typed", "expected"), [
    ("0101", "2022-01-01"),  # 139 days ahead is nearer than 226 days ago
    ("0102", "2022-02-01"),  # 170 days ahead, not 195 days ago
    ("0103", "2021-03-01"),  # 167 days ago, not 198 days ahead
    ("1508", "2021-08-15"),
])
def test_a_wide_window_picks_the_nearest_year(typed: str, expected: str) -> None:
    assert _read_date(DateInput(max_days_ago=365, max_days_ahead=365), typed, TODAY) == (True, expected, None)


def test_only_dates_inside_the_window_count() -> None:
    # Nearest would be 2022-01-01 (ahead), but no future date is allowed.
    assert _read_date(DateInput(max_days_ago=365), "0101", TODAY) == (True, "2021-01-01", None)
    assert _read_date(DateInput(max_days_ago=30), "0101", TODAY) == (False, None, None)


def test_the_year_turns_over() -> None:
    assert _read_date(DateInput(max_days_ago=30), "3112", dt.date(2022, 1, 5)) == (True, "2021-12-31", None)
