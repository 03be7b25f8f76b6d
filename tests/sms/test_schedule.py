"""Quiet hours and campaigns scheduled for later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from sms.campaigns import create_campaign, figures
from sms.context import SmsContext
from sms.fanout import start_due_campaigns
from sms.policy import QuietHours
from sms.prepare import Template
from sms.recipients import Recipient
from sms.send import send_batch

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _at(hour: int, minute: int = 0, day: int = 12) -> dt.datetime:
    return dt.datetime(2021, 8, day, hour, minute, tzinfo=VN).astimezone(dt.UTC)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("21:00-07:00", VN)
    assert quiet.quiet(_at(21)) and quiet.quiet(_at(2)) and quiet.quiet(_at(6, 59))
    assert not quiet.quiet(_at(7)) and not quiet.quiet(_at(20, 59))
    assert quiet.ends_after(_at(22)) == _at(7, day=13)
    assert quiet.ends_after(_at(3)) == _at(7)
    assert not QuietHours.parse("", VN).quiet(_at(3))


def test_nothing_is_sent_in_quiet_hours(ctx: Callable[[], SmsContext], configure: Callable[..., object],
                                        migrated: Engine) -> None:
    configure(SMS_QUIET_HOURS="21:00-07:00")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345678")], Template("Hi", False), c.router)
    assert send_batch(c, summary.campaign_id, 0, 10**9, now=_at(23)).skipped == "quiet hours"
    assert figures(migrated, summary.campaign_id).by_state == {"queued": 1}
    assert send_batch(c, summary.campaign_id, 0, 10**9, now=_at(8)).claimed == 1


def test_a_campaign_for_later_waits_for_its_time(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345678")], Template("Hi", False), c.router,
                              send_at=_at(8), now=_at(6))
    assert figures(migrated, summary.campaign_id).status == "scheduled"
    assert send_batch(c, summary.campaign_id, 0, 10**9, now=_at(7)).skipped == "campaign scheduled"
    assert start_due_campaigns(migrated, now=_at(7, 59)) == []
    assert start_due_campaigns(migrated, now=_at(8)) == [summary.campaign_id]
    assert figures(migrated, summary.campaign_id).status == "running"


def test_run_forever_sends_api_campaigns(ctx: Callable[[], SmsContext], migrated: Engine,
                                         start_workers: Callable[..., object]) -> None:
    from sms.fanout import run_forever

    c = ctx()
    summary = create_campaign(migrated, [Recipient(i, f"09123456{i:02d}") for i in range(30)],
                              Template("Hi", False), c.router)
    start_workers(1)
    for _ in range(20):
        run_forever(c, every=0.3, rounds=1)
        if figures(migrated, summary.campaign_id).status == "finished":
            break
    final = figures(migrated, summary.campaign_id)
    assert final.status == "finished" and final.outstanding == 0 and sum(final.by_state.values()) == 30


def test_driving_in_quiet_hours_says_until_when(ctx: Callable[[], SmsContext], configure: Callable[..., object],
                                               migrated: Engine) -> None:
    from sms.fanout import drive

    configure(SMS_QUIET_HOURS="21:00-07:00")
    c = ctx()
    summary = create_campaign(migrated, [Recipient(1, "0912345678")], Template("Hi", False), c.router)
    told: list[dt.datetime] = []
    drive(c, summary.campaign_id, max_wait=0.0, clock=lambda: _at(23), on_quiet=told.append)
    assert told == [_at(7, day=13)]  # once, with the end of the quiet hours
    assert figures(migrated, summary.campaign_id).by_state == {"queued": 1}
