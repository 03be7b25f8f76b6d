"""Loading campaigns: CSV streaming, normalisation, duplicates, invalid numbers, opt-outs, routing, templates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from robocall.config import parse_routes
from robocall.models import Contact
from robocall.sms_models import (
    CampaignStatus,
    MessageState,
    SmsMessage,
    SmsOptOut,
    SmsRouteOverride,
)
from robocall.sms_routing import Router
from sms.campaigns import (
    create_campaign,
    dry_run,
    figures,
    invalid_recipients,
    set_status,
)
from sms.context import SmsContext
from sms.prepare import Template
from sms.recipients import (
    ContactFilter,
    RecipientsError,
    contact_recipients,
    csv_fields,
    csv_recipients,
)
from tests.sms.conftest import write_csv


def test_csv_list_is_normalised_deduplicated_and_bad_numbers_reported(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                                      migrated: Engine) -> None:
    c = ctx()
    path = write_csv(tmp_path / "list.csv", [
        ["An", "0912 345 678"], ["An again", "+84 912 345 678"], ["Bình", "01623456789"],
        ["Chi", "12345"], ["Dũng", "024 3822 1234"], ["Em", ""], ["Giang", "0981234567"],
    ])
    template = Template("Chào {{ ho_va_ten }}", False, csv_fields(path))
    now = dt.datetime(2026, 12, 1, 5, 6, 7, 891011, tzinfo=dt.UTC)
    summary = create_campaign(migrated, csv_recipients(path), template, c.router, now=now)
    assert (summary.recipients, summary.duplicates, summary.invalid) == (3, 1, 3)
    with migrated.connect() as connection:
        rows = connection.execute(select(SmsMessage.phone, SmsMessage.text, SmsMessage.carrier, SmsMessage.state,
                                         SmsMessage.attempts, SmsMessage.queued_at).order_by(SmsMessage.id)).all()
    assert [r.phone for r in rows] == ["+84912345678", "+84323456789", "+84981234567"]
    assert rows[0].text == "Chào An" and rows[0].carrier == "Vinaphone" and rows[2].carrier == "Viettel"
    assert all(r.state == MessageState.QUEUED and r.attempts == 0 for r in rows)
    assert {r.queued_at.replace(tzinfo=dt.UTC) for r in rows} == {now}  # COPY's text form of the time on PostgreSQL
    reasons = {row: reason for row, _value, reason in invalid_recipients(migrated, summary.campaign_id)}
    assert reasons == {5: "quá ngắn / too short", 6: "số cố định, cần số di động / landline, a mobile number is needed",
                       7: "trống / empty"}


def test_template_fields_missing_from_the_list_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [["An", "0912345678"]])
    with pytest.raises(RecipientsError, match="ten_goi"):
        Template("Chào {{ ten_goi }}", False, csv_fields(path))


def test_csv_is_streamed_not_read_whole(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [["x", f"091{i:07d}"] for i in range(10)])
    rows = csv_recipients(path)
    first = next(rows)
    assert first.row == 2 and first.raw == "0910000000"  # a generator: one row at a time


def test_opted_out_numbers_and_contacts_get_nothing(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                    migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(insert(SmsOptOut).values(phone="+84912345678"))
        connection.execute(insert(Contact).values(phone="+84981234567", name="Giang", opted_out=True))
    path = write_csv(tmp_path / "list.csv", [["A", "0912345678"], ["G", "0981234567"], ["H", "0901234567"]])
    summary = create_campaign(migrated, csv_recipients(path), Template("Hi", False), ctx().router)
    assert (summary.recipients, summary.opted_out) == (1, 2)


def test_ported_numbers_route_to_their_new_carrier(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                   migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(insert(SmsRouteOverride).values(phone="+84912345678", carrier="Viettel"))
    router = Router(parse_routes("Viettel=vt,Vinaphone=vn,default=other"), ["vt", "vn", "other"])
    path = write_csv(tmp_path / "list.csv", [["A", "0912345678"], ["B", "0912345679"], ["C", "0591234567"]])
    create_campaign(migrated, csv_recipients(path), Template("Hi", False), router)
    with migrated.connect() as connection:
        routes = dict(connection.execute(select(SmsMessage.phone, SmsMessage.gateway)).all())
    assert routes == {"+84912345678": "vt", "+84912345679": "vn", "+84591234567": "other"}


def test_routes_must_name_configured_gateways() -> None:
    with pytest.raises(ValueError, match="nowhere"):
        Router(parse_routes("Viettel=nowhere,default=sim"), ["sim"])


def test_contacts_by_category_and_district(ctx: Callable[[], SmsContext], migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(insert(Contact), [
            {"phone": "+84912000001", "name": "A", "category": "F1", "district": "Hải Châu"},
            {"phone": "+84912000002", "name": "B", "category": "F2", "district": "Hải Châu"},
            {"phone": "+84912000003", "name": "C", "category": "F1", "district": "Sơn Trà"},
        ])
    where = ContactFilter.parse("category=F1,F2; district=Hải Châu")
    template = Template("{{ name }} ({{ category }}): ở nhà", False, ["name", "category", "district", "commune"])
    summary = create_campaign(migrated, contact_recipients(migrated, where), template, ctx().router)
    assert summary.recipients == 2
    with migrated.connect() as connection:
        texts = sorted(connection.execute(select(SmsMessage.text)).scalars())
    assert texts == ["A (F1): ở nhà", "B (F2): ở nhà"]


def test_dry_run_counts_segments_and_cost_with_and_without_accents(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                                   migrated: Engine) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", f"091{i:07d}"] for i in range(10)] + [["dup", "0910000000"]])
    text = "Sở Y tế đề nghị người dân khai báo y tế trước ngày 15/8 tại tokhaiyte.vn, xin cảm ơn."  # 85 chars
    result = dry_run(migrated, csv_recipients(path), Template(text, False), ctx().router)
    assert (result.recipients, result.duplicates) == (10, 1)
    assert result.segments == 20  # UCS-2: 85 > 70, two parts each
    assert result.segments_stripped == 10  # GSM-7: one part each
    assert result.cost(300) == 6000 and result.cost(300, stripped=True) == 3000
    with migrated.connect() as connection:
        assert connection.execute(select(SmsMessage.id)).first() is None  # nothing written


def test_cancel_expires_what_is_not_sent_and_pause_resume(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                          migrated: Engine) -> None:
    path = write_csv(tmp_path / "list.csv", [["A", f"091{i:07d}"] for i in range(5)])
    summary = create_campaign(migrated, csv_recipients(path), Template("Hi", False), ctx().router)
    assert set_status(migrated, summary.campaign_id, CampaignStatus.PAUSED).status == CampaignStatus.PAUSED
    assert set_status(migrated, summary.campaign_id, CampaignStatus.RUNNING).status == CampaignStatus.RUNNING
    set_status(migrated, summary.campaign_id, CampaignStatus.CANCELLED)
    current = figures(migrated, summary.campaign_id)
    assert current.by_state == {"expired": 5} and current.status == "cancelled"


@pytest.mark.parametrize("batch", [1, 3, 4, 10])
def test_due_messages_are_cut_into_batches_of_consecutive_ids(tmp_path: Path, ctx: Callable[[], SmsContext],
                                                             migrated: Engine, batch: int) -> None:
    """due_ranges: runs of `batch` due messages (a message not due leaves no gap in a run); the last,
    short run only when it is asked for; nothing above `after_id`."""
    import datetime as dt

    from sqlalchemy import update

    from robocall.models import utcnow
    from sms.fanout import due_ranges

    c = ctx()
    path = write_csv(tmp_path / "list.csv", [["x", f"091{i:07d}"] for i in range(10)])
    summary = create_campaign(migrated, csv_recipients(path), Template("Hi", False), c.router)
    with migrated.begin() as connection:
        ids = connection.execute(select(SmsMessage.id).where(SmsMessage.campaign_id == summary.campaign_id)
                                 .order_by(SmsMessage.id)).scalars().all()
        connection.execute(update(SmsMessage).where(SmsMessage.id.in_([ids[2], ids[7]]))  # type: ignore[attr-defined]
                           .values(state=MessageState.DELIVERED))
    due = [i for i in ids if i not in (ids[2], ids[7])]
    runs = [due[i:i + batch] for i in range(0, len(due), batch)]
    now, lease = utcnow(), dt.timedelta(minutes=2)
    assert due_ranges(migrated, summary.campaign_id, batch, now, lease) == [(r[0], r[-1]) for r in runs]
    later = [i for i in due if i > ids[4]]
    assert due_ranges(migrated, summary.campaign_id, batch, now, lease, after_id=ids[4]) == [
        (later[i], later[min(i + batch, len(later)) - 1]) for i in range(0, len(later), batch)]
