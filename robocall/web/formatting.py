"""Jinja filters: local times, waiting times, percentages."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from robocall.logging_setup import mask_phone


def local_time(value: dt.datetime | None, tz: ZoneInfo, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).strftime(fmt)


def duration(minutes: int) -> str:
    """`3 d 4 h`, `2 h 5 m`, `12 m`: short enough for a table cell."""
    days, rest = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} m"
    return f"{mins} m"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def day(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def answer_value(value: Any) -> str:
    if value is True:
        return "✔"
    if value is False:
        return "✘"
    return "" if value is None else str(value)


FILTERS = {"mask": mask_phone, "local_time": local_time, "duration": duration, "percent": percent, "day": day,
           "answer_value": answer_value}
