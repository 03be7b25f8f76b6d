"""The outbox: single messages are written in the caller's transaction and queued once it commits;
their standing campaign ignores quiet hours and never finishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.config import get_settings
from robocall.conversations import outbox
from robocall.conversations.outbox import Purpose, Written, send_sms
from robocall.conversations.sms_declaration import DeclarationRules
from robocall.queues import SMS, queue_name, redis_connection
from robocall.sms_models import CampaignStatus, SmsCampaign, SmsMessage
from sms.campaigns import CampaignError, create_campaign, set_status
from sms.context import SmsContext
from sms.fanout import drive, run_forever
from sms.inbound import handle_inbound
from sms.prepare import Template
from sms.recipients import Recipient
from sms.send import send_batch


def rules() -> DeclarationRules:
    """How declarations run with this test's settings (the SMS context builds the same at start-up)."""
    return DeclarationRules.from_settings(get_settings())



def queued_jobs() -> list[tuple[Any, ...]]:
    queue = Queue(queue_name(SMS), connection=redis_connection())
    return [tuple(job.args) for job in queue.jobs]


def test_a_message_is_written_in_the_callers_transaction_and_queued_after_the_commit(
        sms_env: dict[str, str], migrated: Engine) -> None:
    with DbSession(migrated) as db:
        assert send_sms(db, "0912 345 678", "Thử", Purpose.ESCALATION).written
        db.rollback()  # the call record failed: its SMS goes with it, and nothing was queued
    assert queued_jobs() == []
    with DbSession(migrated) as db:
        written = send_sms(db, "0912 345 678", "Xin ở yên trong nhà.", Purpose.ESCALATION)
        assert queued_jobs() == []  # not before the commit: a worker would not see the row yet
        db.commit()
    with outbox.begin(migrated) as connection:  # the same for Core code
        second = send_sms(connection, "+84912345678", "Second", Purpose.DECLARATION)
    with migrated.connect() as connection:
        rows = connection.execute(select(SmsMessage.id, SmsMessage.campaign_id, SmsMessage.phone, SmsMessage.carrier,
                                         SmsMessage.gateway, SmsMessage.encoding, SmsMessage.segments,
                                         SmsMessage.purpose, SmsMessage.state).order_by(SmsMessage.id)).all()
        kind = connection.execute(select(SmsCampaign.kind)).scalars().all()
    assert [tuple(r[2:]) for r in rows] == [
        ("+84912345678", "Vinaphone", "sim", "UCS-2", 1, "escalation", "queued"),
        ("+84912345678", "Vinaphone", "sim", "GSM-7", 1, "declaration", "queued"),
    ]
    assert kind == ["transactional"]  # made on first use, and only once
    campaign_id = rows[0][1]
    assert queued_jobs() == [(campaign_id, written.message_id, written.message_id),
                             (campaign_id, second.message_id, second.message_id)]


def test_opt_outs_bad_numbers_and_empty_texts_write_nothing(sms_env: dict[str, str], migrated: Engine) -> None:
    handle_inbound(migrated, rules(), "sim", "0912345678", "STOP")
    with DbSession(migrated) as db:
        assert send_sms(db, "0912345678", "Hi", Purpose.ESCALATION) == Written(None, "opted out")
        assert send_sms(db, "12345", "Hi", Purpose.ESCALATION).reason
        assert send_sms(db, "0912345679", "  ", Purpose.ESCALATION) == Written(None, "empty text")
        db.commit()
    with migrated.connect() as connection:
        assert connection.execute(select(SmsMessage.id)).all() == []


def test_single_messages_ignore_quiet_hours_and_their_campaign_never_ends(
        ctx: Callable[[], SmsContext], configure: Callable[..., Any], start_workers: Callable[..., Any],
        migrated: Engine) -> None:
    configure(SMS_QUIET_HOURS="00:00-23:59")
    c = ctx()
    broadcast = create_campaign(migrated, [Recipient(1, "0912345679")], Template("Thông báo", False), c.router)
    with migrated.begin() as connection:  # written without outbox.begin: its queueing is "lost"
        message = send_sms(connection, "0912345678", "TTKSBT đã nhận khai báo", Purpose.ESCALATION)
        standing = outbox.standing_campaign_id(connection)
    assert send_batch(c, broadcast.campaign_id, 0, 10**9).skipped == "quiet hours"
    run_forever(c, every=0, rounds=1)  # queues the lost message again, quiet hours or not
    assert (standing, message.message_id, message.message_id) in queued_jobs()
    assert all(args[0] == standing for args in queued_jobs())  # the campaign list waits for the morning
    assert send_batch(c, standing, 0, 10**9).outcomes == {"accepted": 1}

    configure(SMS_QUIET_HOURS="")
    c = ctx()
    start_workers(1)
    drive(c, broadcast.campaign_id, max_wait=5)
    assert drive(c, standing, max_wait=5).status == CampaignStatus.RUNNING  # returns, nothing outstanding
    run_forever(c, every=0, rounds=1)
    with migrated.connect() as connection:
        statuses = dict(connection.execute(select(SmsCampaign.id, SmsCampaign.status)).all())
    assert statuses == {broadcast.campaign_id: "finished", standing: "running"}
    with pytest.raises(CampaignError, match="pause it instead"):
        set_status(migrated, standing, CampaignStatus.CANCELLED)
