"""SMS settings in usable form: quiet hours, retries, batches (read from robocall.config)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from robocall.config import Settings, TimeWindow, parse_optional_window


@dataclass(frozen=True)
class QuietHours:
    window: TimeWindow | None  # None: never quiet
    tz: ZoneInfo

    @classmethod
    def parse(cls, spec: str, tz: ZoneInfo) -> QuietHours:
        """SMS_QUIET_HOURS as written (``21:00-07:00``; empty: none)."""
        return cls(parse_optional_window(spec), tz)

    def quiet(self, at: dt.datetime) -> bool:
        return self.window is not None and self.window.contains(at.astimezone(self.tz).time())

    def ends_after(self, at: dt.datetime) -> dt.datetime:
        """The first moment at or after `at` outside quiet hours."""
        if self.window is None or not self.quiet(at):
            return at
        local = at.astimezone(self.tz)
        end = dt.datetime.combine(local.date(), self.window.end, self.tz)
        if end <= local:
            end += dt.timedelta(days=1)
        return end.astimezone(dt.UTC)


@dataclass(frozen=True)
class SmsPolicy:
    sender: str
    quiet_hours: QuietHours
    batch_size: int
    max_attempts: int
    retry_seconds: int
    circuit_failures: int
    circuit_seconds: int
    submit_lease: dt.timedelta
    segment_cost: float

    def retry_at(self, now: dt.datetime, attempts: int) -> dt.datetime:
        return now + dt.timedelta(seconds=self.retry_seconds * 2 ** max(attempts - 1, 0))


def policy_from_settings(settings: Settings) -> SmsPolicy:
    return SmsPolicy(
        sender=settings.sms_sender,
        quiet_hours=QuietHours(settings.sms_quiet_hours, settings.tzinfo),
        batch_size=settings.sms_batch_size,
        max_attempts=settings.sms_max_attempts,
        retry_seconds=settings.sms_retry_seconds,
        circuit_failures=settings.sms_circuit_failures,
        circuit_seconds=settings.sms_circuit_seconds,
        submit_lease=dt.timedelta(seconds=settings.sms_submit_lease_seconds),
        segment_cost=settings.sms_segment_cost,
    )
