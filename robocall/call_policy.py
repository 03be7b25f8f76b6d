"""The rules of a follow-up campaign, as plain data: monitoring periods, call window, retries, caps.

Pure: every function takes the time it needs as an argument.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from robocall.config import Settings, TimeWindow
from robocall.models import CallState

DEFAULT_MONITORING_DAYS = {"F1": 14, "F2": 7, "returnee": 14, "other": 14}
# Which flow calls which category.
DEFAULT_FLOWS = {"F1": "f1_f2_followup", "F2": "f1_f2_followup", "returnee": "returnee_check", "other": "f1_f2_followup"}


@dataclass(frozen=True)
class CallPolicy:
    monitoring_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MONITORING_DAYS))
    window: TimeWindow = TimeWindow(dt.time(7, 30), dt.time(20, 30))  # within one day (CALL_WINDOW)
    timezone: str = "Asia/Ho_Chi_Minh"
    # Wait before the next try after busy / no answer / failed / answering machine, in order.
    retry_ladder: tuple[dt.timedelta, ...] = (
        dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=3),
    )
    daily_attempt_cap: int = 4
    # Unreachable this many whole days in a row -> escalate for a home visit.
    unreachable_days_to_escalate: int = 2

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def monitoring_end(self, category: str, exposure_date: dt.date | None) -> dt.date | None:
        """Last day a contact is called: exposure (or return) date + the category's period."""
        if exposure_date is None:
            return None
        days = self.monitoring_days.get(category, self.monitoring_days["other"])
        return exposure_date + dt.timedelta(days=days)

    def local_day(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.tz).date()

    def in_window(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.tz).time()
        return self.window.contains(local)

    def window_opens(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.window.start, self.tz).astimezone(dt.UTC)

    def window_closes(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.window.end, self.tz).astimezone(dt.UTC)

    def next_try(self, state: CallState, attempt_number: int, ended_at: dt.datetime) -> dt.datetime | None:
        """When to try again after attempt `attempt_number` ended in `state`, or None for no more today."""
        if state == CallState.COMPLETED or attempt_number >= self.daily_attempt_cap:
            return None
        step = min(attempt_number - 1, len(self.retry_ladder) - 1)
        when = ended_at + self.retry_ladder[step]
        return when if when < self.window_closes(self.local_day(ended_at)) else None


def policy_from_settings(settings: Settings) -> CallPolicy:
    return CallPolicy(
        monitoring_days={**DEFAULT_MONITORING_DAYS, **settings.monitoring_days},
        window=settings.call_window,
        timezone=settings.timezone,
        retry_ladder=settings.retry_ladder,
        daily_attempt_cap=settings.daily_attempt_cap,
        unreachable_days_to_escalate=settings.unreachable_days_to_escalate,
    )


def caller_ids_from_settings(settings: Settings) -> tuple[tuple[str, str], ...]:
    """`default=` becomes the empty carrier, the dialer's fallback."""
    return tuple(("" if k == "default" else k, v) for k, v in settings.caller_ids.items())
