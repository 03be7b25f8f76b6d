"""Sending while the list loads (create_campaign(stream=True) with drive()), through real workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from robocall.sms_models import CampaignStatus
from simulator.carriers import wait_until
from sms import campaigns
from sms.campaigns import CampaignError, create_campaign, figures, set_status
from sms.context import SmsContext
from sms.fanout import drive
from sms.prepare import Template
from sms.recipients import Recipient
from tests.sms.conftest import phones


class HeldList:
    """Recipients that stop after `hold_after` rows until released (a list still being read), or fail there."""

    def __init__(self, numbers: list[str], hold_after: int, fail: bool = False) -> None:
        self.numbers, self.hold_after, self.fail = numbers, hold_after, fail
        self.release = threading.Event()

    def __iter__(self) -> Iterator[Recipient]:
        for row, number in enumerate(self.numbers, start=2):
            if row - 2 == self.hold_after:
                if self.fail:
                    raise OSError("the file went away")
                assert self.release.wait(30)
            yield Recipient(row, number)


def _start_load(c: SmsContext, recipients: HeldList) -> tuple[threading.Thread, dict[str, Any], int]:
    created: list[int] = []
    outcome: dict[str, Any] = {}

    def load() -> None:
        try:
            outcome["summary"] = create_campaign(c.engine, recipients, Template("Thông báo", False), c.router,
                                                 stream=True, on_created=created.append)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    assert wait_until(lambda: bool(created) or "error" in outcome)
    return thread, outcome, created[0]


def _drive_in_background(c: SmsContext, campaign_id: int) -> tuple[threading.Thread, dict[str, Any]]:
    """drive(campaign_id) in a thread; its figures land in driven["final"]."""
    driven: dict[str, Any] = {}
    driver = threading.Thread(target=lambda: driven.update(final=drive(c, campaign_id)), daemon=True)
    driver.start()
    return driver, driven


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaigns, "CHUNK", 100)  # rows per load transaction (SMS_BATCH_SIZE is 100 in tests)


def test_what_is_loaded_is_sent_while_the_rest_of_the_list_loads(
        small_chunks: None, ctx: Callable[[], SmsContext], start_workers: Callable[..., object]) -> None:
    c = ctx()
    listed = HeldList(phones(250), hold_after=200)
    start_workers(1)
    thread, outcome, campaign_id = _start_load(c, listed)
    driver, driven = _drive_in_background(c, campaign_id)
    # The first 200 rows are in (two chunks): they go out while the list is still being read.
    assert wait_until(lambda: figures(c.engine, campaign_id).finished == 200, timeout=20)
    assert figures(c.engine, campaign_id).status == CampaignStatus.LOADING
    with pytest.raises(CampaignError, match="loading: cannot pause"):
        set_status(c.engine, campaign_id, CampaignStatus.PAUSED)
    listed.release.set()
    thread.join(10)
    driver.join(30)
    final = driven["final"]
    assert outcome["summary"].recipients == 250
    assert final.status == CampaignStatus.FINISHED and final.recipients == 250
    assert final.outstanding == 0 and final.finished == 250


def test_cancelling_a_loading_campaign_stops_the_load_and_expires_what_was_not_sent(
        small_chunks: None, ctx: Callable[[], SmsContext]) -> None:
    c = ctx()
    listed = HeldList(phones(500), hold_after=200)
    thread, outcome, campaign_id = _start_load(c, listed)  # no workers: nothing is sent
    assert wait_until(lambda: sum(figures(c.engine, campaign_id).by_state.values()) == 200)
    set_status(c.engine, campaign_id, CampaignStatus.CANCELLED)
    listed.release.set()
    thread.join(10)
    final = figures(c.engine, campaign_id)
    assert final.status == CampaignStatus.CANCELLED
    assert final.by_state == {"expired": sum(final.by_state.values())}  # nothing left queued
    assert sum(final.by_state.values()) == 300  # stopped at the next chunk: rows 201-300, not all 500


def test_a_load_that_fails_leaves_the_loaded_part_paused_for_resume(
        small_chunks: None, ctx: Callable[[], SmsContext]) -> None:
    c = ctx()
    thread, outcome, campaign_id = _start_load(c, HeldList(phones(250), hold_after=150, fail=True))
    thread.join(10)
    assert isinstance(outcome["error"], OSError)
    current = figures(c.engine, campaign_id)
    assert current.status == CampaignStatus.PAUSED
    assert current.by_state == {"queued": 150} and current.recipients == 150  # every row read is kept
    assert set_status(c.engine, campaign_id, CampaignStatus.RUNNING).status == CampaignStatus.RUNNING


def test_batches_cut_by_id_skip_another_campaigns_message_written_between_chunks(
        small_chunks: None, ctx: Callable[[], SmsContext], start_workers: Callable[..., object]) -> None:
    """While a list loads, batches are cut by id (no query over the messages); a single message written by
    the outbox in between takes an id inside the list's span, and belongs to its own campaign only."""
    from sqlalchemy import select

    from robocall.conversations import outbox
    from robocall.sms_models import SmsMessage

    c = ctx()
    listed = HeldList(phones(250), hold_after=100)
    start_workers(1)
    thread, outcome, campaign_id = _start_load(c, listed)
    driver, driven = _drive_in_background(c, campaign_id)
    assert wait_until(lambda: figures(c.engine, campaign_id).finished == 100, timeout=20)
    with outbox.begin(c.engine) as connection:
        single = outbox.send_sms(connection, "0987 654 321", "Riêng", outbox.Purpose.ESCALATION).message_id
    listed.release.set()
    thread.join(10)
    driver.join(30)
    final = driven["final"]
    assert final.status == CampaignStatus.FINISHED and final.finished == 250 and final.outstanding == 0
    assert wait_until(lambda: outbox.wait_until_sent(c.engine, timeout=0) == 0, timeout=20)
    with c.engine.connect() as connection:
        ids = connection.execute(select(SmsMessage.id).where(SmsMessage.campaign_id == campaign_id)).scalars().all()
        row = connection.execute(select(SmsMessage.campaign_id, SmsMessage.attempts).where(SmsMessage.id == single)).one()
        standing = outbox.standing_campaign_id(connection)
    assert min(ids) < single < max(ids)  # inside the list's span of ids
    assert tuple(row) == (standing, 1)  # sent once, by its own campaign


def test_id_batches_are_whole_runs_of_ids() -> None:
    from sms.fanout import id_batches

    assert id_batches(0, 4000, 2000) == [(1, 2000), (2001, 4000)]
    assert id_batches(10, 4009, 2000) == [(11, 2010)]  # 2011..4009 is not whole yet
    assert id_batches(10, 10, 2000) == []
