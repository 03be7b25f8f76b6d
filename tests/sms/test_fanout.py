"""Campaigns end to end through real RQ workers, Redis, the database and local carriers."""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from robocall.models import utcnow
from robocall.queues import SMS, queue_name
from robocall.sms_models import MessageState, SmsMessage, SmsMessagePart, SmsReceipt
from simulator.carriers import LocalHttpCarrier, LocalSmsc, wait_until
from sms.campaigns import create_campaign, figures
from sms.context import SmsContext
from sms.fanout import drive, enqueue_due
from sms.prepare import Template
from sms.recipients import csv_recipients
from tests.sms.conftest import phones, write_csv

LONG_VI = "Ban chỉ đạo phòng chống dịch tỉnh thông báo: " * 3  # 135 UCS-2 characters: 3 parts


def _campaign(tmp_path: Path, c: SmsContext, numbers: list[str], text: str = "Thông báo khẩn") -> int:
    path = write_csv(tmp_path / "list.csv", [["x", n] for n in numbers])
    return create_campaign(c.engine, csv_recipients(path), Template(text, False), c.router).campaign_id


def _receipts_in(c: SmsContext, campaign_id: int, carrier: str, expected: dict[str, int],
                 timeout: float = 10) -> dict[str, int]:
    """Receipts come after sending is done: wait for them (workers and drivers move them to the database)."""
    wait_until(lambda: c.drain_receipts() >= 0 and figures(c.engine, campaign_id).by_carrier.get(carrier) == expected,
               timeout=timeout)
    return figures(c.engine, campaign_id).by_carrier[carrier]


def _states(engine: Engine, campaign_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(SmsMessage.state, func.count()).where(
            SmsMessage.campaign_id == campaign_id).group_by(SmsMessage.state)).all())


def test_campaign_fans_out_one_job_per_batch_and_every_message_is_accounted(
        tmp_path: Path, ctx: Callable[[], SmsContext], start_workers: Callable[..., object]) -> None:
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(1050) + phones(5))  # 5 duplicates
    job_ids = enqueue_due(c, Queue(queue_name(SMS), connection=c.redis), campaign_id)
    assert len(job_ids) == 11  # SMS_BATCH_SIZE=100: one job per batch, not per message
    start_workers(2)
    final = drive(c, campaign_id)
    assert final.status == "finished" and final.recipients == 1050 and final.duplicates == 5
    assert final.outstanding == 0
    assert sum(final.by_state.values()) == 1050
    assert set(final.by_state) <= {"delivered", "expired", "failed"}  # the simulator reports on every one
    assert final.by_carrier["Vinaphone"] == final.by_state


@pytest.mark.parametrize("smsc", ["smpp34", "light"], indirect=True)
def test_smpp_and_http_carriers_with_receipts_long_ucs2_messages(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], smsc: LocalSmsc, http_carrier: LocalHttpCarrier) -> None:
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(), "vnpt": http_carrier.gateway_config()},
              SMS_ROUTES="Viettel=viettel,default=vnpt")
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(30, "098") + phones(20, "091"), LONG_VI)
    start_workers(1)
    final = drive(c, campaign_id)
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 30}) == {"delivered": 30}  # deliver_sm receipts
    assert final.by_carrier["Vinaphone"] == {"accepted": 20}  # no receipt callback configured
    assert len(smsc.submits) == 90  # 3 parts each
    udh = [s.short_message[:6] for s in smsc.submits if s.our_id == smsc.submits[0].our_id]
    assert [u[:3] for u in udh] == [b"\x05\x00\x03"] * 3 and [u[4:] for u in udh] == [b"\x03\x01", b"\x03\x02", b"\x03\x03"]
    assert {s.data_coding for s in smsc.submits} == {8} and {s.esm_class for s in smsc.submits} == {0x40}
    assert http_carrier.unauthorized == 0 and len(http_carrier.accepted_ids) == 20


def test_receipts_of_every_part_of_a_long_message_find_their_message(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], smsc: LocalSmsc) -> None:
    """Parts 2..n have carrier ids of their own: their receipts are matched (none left over), and a
    part that was not delivered fails its message even after its first part said delivered."""
    numbers = phones(12, "098")
    smsc.undelivered_parts = {"84" + numbers[0][1:]: 2, "84" + numbers[1][1:]: 3}
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config()}, SMS_ROUTES="default=viettel")
    c = ctx()
    campaign_id = _campaign(tmp_path, c, numbers, LONG_VI)
    start_workers(1)
    drive(c, campaign_id)
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 10, "failed": 2}) == {"delivered": 10, "failed": 2}
    wait_until(lambda: smsc.receipts_sent == 36, timeout=10)  # parts 2..n change no state: wait for them
    assert smsc.receipts_sent == 36  # 3 parts each
    inbox = f"{c.prefix}:sms:receipts"
    wait_until(lambda: c.drain_receipts() >= 0 and c.redis.llen(inbox) == 0, timeout=10)
    assert c.redis.llen(inbox) == 0  # nothing waits for a message it will never find
    with c.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SmsMessagePart)).scalar() == 36  # 12 x 3 parts
        assert connection.execute(select(func.count()).select_from(SmsReceipt)).scalar() == 0
        failed = dict(connection.execute(select(SmsMessage.phone, SmsMessage.reason).where(
            SmsMessage.campaign_id == campaign_id, SmsMessage.state == MessageState.FAILED)).all())
    assert failed == {"+84" + numbers[0][1:]: "part 2: UNDELIV err:001", "+84" + numbers[1][1:]: "part 3: UNDELIV err:001"}


def test_throttling_and_transient_failures_are_retried(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], smsc: LocalSmsc, http_carrier: LocalHttpCarrier) -> None:
    smsc.throttle_first = 5
    http_carrier.throttle_first, http_carrier.fail_first, http_carrier.hang_first = 1, 1, 1
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(), "vnpt": http_carrier.gateway_config(timeout=1)},
              SMS_ROUTES="Viettel=viettel,default=vnpt", SMS_MAX_ATTEMPTS=5, SMS_CIRCUIT_FAILURES=100)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(10, "098") + phones(10, "091"))
    start_workers(1)
    final = drive(c, campaign_id)
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 10}) == {"delivered": 10}
    assert final.by_carrier["Vinaphone"] == {"accepted": 10}
    assert max(http_carrier.accepted_ids.values()) == 1  # the hung request's resend was recognised by id
    with c.engine.connect() as connection:
        assert connection.execute(select(func.max(SmsMessage.attempts))).scalar() >= 2


def test_retries_are_bounded_and_a_failing_carrier_is_paused_while_others_go_on(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], smsc: LocalSmsc, http_carrier: LocalHttpCarrier) -> None:
    http_carrier.always_fail = True
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(), "vnpt": http_carrier.gateway_config(batch=10)},
              SMS_ROUTES="Viettel=viettel,default=vnpt", SMS_MAX_ATTEMPTS=2, SMS_CIRCUIT_FAILURES=10,
              SMS_CIRCUIT_SECONDS=1, SMS_BATCH_SIZE=1000)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(40, "098") + phones(40, "091"))
    start_workers(1)
    final = drive(c, campaign_id)
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 40}) == {"delivered": 40}  # the other went on
    assert final.by_carrier["Vinaphone"] == {"failed": 40}
    with c.engine.connect() as connection:
        reasons = set(connection.execute(select(SmsMessage.reason).where(SmsMessage.state == "failed")).scalars())
        attempts = set(connection.execute(select(SmsMessage.attempts).where(SmsMessage.state == "failed")).scalars())
    assert reasons == {"gave up after 2 tries: HTTP 500"} and attempts == {2}
    # 40 messages x 2 tries in batches of 10 = 8 requests if every try had reached the carrier; the breaker
    # (10 failures in a row) rested the gateway in between, which is what made the retries wait.
    assert http_carrier.requests == 8


def test_a_worker_killed_mid_campaign_loses_nothing_and_sends_nothing_twice(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., list], smsc: LocalSmsc) -> None:
    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(rate=400)}, SMS_ROUTES="default=viettel",
              SMS_SUBMIT_LEASE_SECONDS=2, SMS_BATCH_SIZE=1000)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(2000, "098"))
    enqueue_due(c, Queue(queue_name(SMS), connection=c.redis), campaign_id)
    (worker,) = start_workers(1)
    assert wait_until(lambda: len(smsc.submits) >= 300, timeout=20)
    worker.send_signal(signal.SIGKILL)  # mid-batch, mid-chunk
    worker.wait()
    killed_at = _states(c.engine, campaign_id)
    assert killed_at.get("queued", 0) > 0  # work left behind
    start_workers(1)
    final = drive(c, campaign_id)  # "resume": whatever is not done gets done
    assert final.outstanding == 0
    # 2,000 receipts through a restarted worker: give a loaded CI machine time
    # Every receipt too: the killed worker had acknowledged none it had not stored, so the SMSC sends
    # the rest again to the next bind.
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 2000}, timeout=45) == {"delivered": 2000}
    assert len(smsc.accepted_ids) == 2000 and max(smsc.accepted_ids.values()) == 1
    resent = len(smsc.submits) - 2000
    assert resent <= 500  # at most the one chunk that was on the wire when the worker died


def test_the_driver_goes_on_when_a_worker_dies_holding_a_job(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., list], smsc: LocalSmsc) -> None:
    """RQ keeps a dead worker's job `started` for good: the driver must not wait for it past the lease."""
    import threading

    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(rate=400)}, SMS_ROUTES="default=viettel",
              SMS_SUBMIT_LEASE_SECONDS=2, SMS_BATCH_SIZE=1000)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(2000, "098"))
    (doomed,) = start_workers(1)

    def kill_then_replace() -> None:
        wait_until(lambda: len(smsc.submits) >= 300, timeout=20)
        doomed.send_signal(signal.SIGKILL)  # while the driver waits for its job
        doomed.wait()
        start_workers(1)

    killer = threading.Thread(target=kill_then_replace)
    killer.start()
    final = drive(c, campaign_id)
    killer.join()
    assert final.status == "finished" and final.outstanding == 0
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 2000}, timeout=45) == {"delivered": 2000}
    assert len(smsc.accepted_ids) == 2000


def test_pause_stops_sending_and_resume_finishes(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        start_workers: Callable[..., object], smsc: LocalSmsc) -> None:
    from robocall.sms_models import CampaignStatus
    from sms.campaigns import set_status

    configure(SMS_GATEWAYS={"viettel": smsc.gateway_config(rate=300)}, SMS_ROUTES="default=viettel")
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(1200, "098"))
    enqueue_due(c, Queue(queue_name(SMS), connection=c.redis), campaign_id)
    start_workers(1)
    assert wait_until(lambda: len(smsc.submits) >= 100, timeout=20)
    set_status(c.engine, campaign_id, CampaignStatus.PAUSED)
    time.sleep(2.5)  # the chunk in hand finishes, then nothing more
    sent = len(smsc.submits)
    time.sleep(1)
    assert len(smsc.submits) == sent < 1200
    assert figures(c.engine, campaign_id).by_state.get(MessageState.QUEUED, 0) > 0
    set_status(c.engine, campaign_id, CampaignStatus.RUNNING)
    final = drive(c, campaign_id)
    assert final.outstanding == 0
    assert _receipts_in(c, campaign_id, "Viettel", {"delivered": 1200}) == {"delivered": 1200}
    assert max(smsc.accepted_ids.values()) == 1


def test_an_unreachable_carrier_costs_its_messages_no_tries(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object]) -> None:
    """Found by the carrier drill: a carrier switched off for a minute used up every message's tries
    ("gave up after 3 tries: cannot bind").  Nothing was handed over, so no try is counted."""
    from simulator.hosts import free_port
    from sms.send import send_batch

    closed = free_port()  # nothing listens there
    configure(SMS_GATEWAYS={"mobifone": {"kind": "smpp", "host": "127.0.0.1", "port": closed, "system_id": "cdc",
                                         "password": "pw", "rate": 1000},
                            "vnpt": {"kind": "http", "url": f"http://127.0.0.1:{closed}/send", "rate": 1000}},
              SMS_ROUTES="MobiFone=mobifone,default=vnpt", SMS_MAX_ATTEMPTS=1, SMS_CIRCUIT_FAILURES=1000)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(5, "090") + phones(5, "091"))
    for _ in range(3):  # more rounds than SMS_MAX_ATTEMPTS allows tries
        send_batch(c, campaign_id, 1, 10**6, now=utcnow() + dt.timedelta(hours=1))
    with c.engine.connect() as connection:
        rows = connection.execute(select(SmsMessage.state, SmsMessage.attempts, SmsMessage.reason).where(
            SmsMessage.campaign_id == campaign_id)).all()
    assert {(state, attempts) for state, attempts, _ in rows} == {("queued", 0)}  # waiting, not failed
    assert {reason.split(":")[0] for _, _, reason in rows} == {"cannot bind", "http"}


def test_a_chunk_the_carrier_took_part_of_does_not_pause_it(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        http_carrier: LocalHttpCarrier) -> None:
    """Found by the carrier drill: a carrier failing one request in five had its circuit opened by nearly
    every chunk (a failed request of 100 messages counted 100 failures "in a row")."""
    from sms.send import send_batch

    http_carrier.fail_first = 1  # the first of the chunk's three requests: HTTP 500
    configure(SMS_GATEWAYS={"vnpt": http_carrier.gateway_config(batch=10)}, SMS_ROUTES="default=vnpt",
              SMS_CIRCUIT_FAILURES=5)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(30, "091"))
    result = send_batch(c, campaign_id, 1, 10**6)
    assert result.outcomes == {"transient": 10, "accepted": 20}
    assert c.breaker("vnpt").open_for() == 0  # still going
    http_carrier.always_fail = True  # now a chunk it takes none of: that one counts
    send_batch(c, campaign_id, 1, 10**6, now=utcnow() + dt.timedelta(hours=1))
    assert c.breaker("vnpt").open_for() > 0


def test_throttling_costs_no_try(
        tmp_path: Path, ctx: Callable[[], SmsContext], configure: Callable[..., object],
        http_carrier: LocalHttpCarrier) -> None:
    """Found by the carrier drill: 109 of 100,000 messages failed "gave up after 3 tries: HTTP 429"."""
    from sms.send import send_batch

    http_carrier.throttle_first = 3
    configure(SMS_GATEWAYS={"vnpt": http_carrier.gateway_config(batch=10)}, SMS_ROUTES="default=vnpt",
              SMS_MAX_ATTEMPTS=1)
    c = ctx()
    campaign_id = _campaign(tmp_path, c, phones(10, "091"))
    for _ in range(4):  # three times "slow down", then taken
        send_batch(c, campaign_id, 1, 10**6, now=utcnow() + dt.timedelta(hours=1))
    assert _states(c.engine, campaign_id) == {"accepted": 10}

