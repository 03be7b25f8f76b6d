"""`robocall purge`: personal data of follow-ups that ended before a day goes, case counts stay."""

from __future__ import annotations

import datetime as dt
import os

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col

from robocall.cli import cli
from robocall.config import reset_settings
from robocall.migrate import upgrade
from robocall.models import (
    Answer,
    AuditLog,
    CallAttempt,
    CallState,
    Contact,
    Escalation,
    EscalationEvent,
    EscalationStatus,
)
from robocall.purge import PURGED, purge
from robocall.sms_models import CampaignStatus, SmsCampaign, SmsDialogue, SmsInbound, SmsMessage

CUT = dt.date(2021, 10, 1)
OLD = dt.datetime(2021, 9, 1, 3, tzinfo=dt.UTC)
NEW = dt.datetime(2021, 10, 5, 3, tzinfo=dt.UTC)


def seed(engine: Engine) -> dict[str, int]:
    upgrade(engine)
    with DbSession(engine) as db:
        done = Contact(phone="+84912000001", name="Nguyễn Văn An", address="12 Lê Lợi", notes="ho", alt_phone="+84912000009",
                       birth_year=1980, category="F1", district="Huế", monitoring_end=dt.date(2021, 9, 10))
        open_case = Contact(phone="+84912000002", name="Trần Thị Bình", category="F1", monitoring_end=dt.date(2021, 9, 10))
        current = Contact(phone="+84912000003", name="Lê Văn Cường", category="F2", monitoring_end=dt.date(2021, 10, 20))
        db.add_all([done, open_case, current])
        db.flush()
        for contact in (done, open_case, current):
            attempt = CallAttempt(contact_id=contact.id, phone=contact.phone, flow="f1_f2_followup", day=dt.date(2021, 9, 5),
                                  state=CallState.COMPLETED, session={"answers": {"fever": True}})
            db.add(attempt)
            db.flush()
            db.add(Answer(attempt_id=attempt.id or 0, contact_id=contact.id, question="fever", node="q1", value=True, keys="1"))
            case = Escalation(contact_id=contact.id, attempt_id=attempt.id, rule="fever", level="urgent", reason="sốt",
                              status=EscalationStatus.RESOLVED if contact is not open_case else EscalationStatus.OPEN)
            db.add(case)
            db.flush()
            db.add(EscalationEvent(escalation_id=case.id or 0, kind="note", actor="bs_lan", text="gọi cho vợ anh An"))
        db.add(SmsDialogue(phone=done.phone, contact_id=done.id, flow="hotline", answers={"fever": True}))
        campaign = SmsCampaign(template="Xin chào", status=CampaignStatus.FINISHED, created_at=OLD)
        db.add(campaign)
        db.flush()
        for i in range(3):
            db.add(SmsMessage(campaign_id=campaign.id or 0, phone=f"+8491300000{i}", text=f"chào {i}", queued_at=OLD))
        db.add(SmsMessage(campaign_id=campaign.id or 0, phone="+84913000009", text="mới", queued_at=NEW))
        db.add(SmsInbound(phone="+84913000001", text="KB", received_at=OLD))
        db.add(SmsInbound(phone="+84913000002", text="KB", received_at=NEW))
        db.commit()
        return {"done": done.id or 0, "open_case": open_case.id or 0, "current": current.id or 0}


def snapshot(engine: Engine) -> list[object]:
    with DbSession(engine) as db:
        return [sorted((c.id, c.phone, c.name) for c in db.exec(select(Contact)).scalars()),  # type: ignore[call-overload]
                db.scalar(select(func.count()).select_from(Answer)),
                sorted(m.phone for m in db.exec(select(SmsMessage)).scalars())]  # type: ignore[call-overload]


def test_dry_run_counts_and_changes_nothing(db_engine: Engine) -> None:
    seed(db_engine)
    before = snapshot(db_engine)
    summary = purge(db_engine, CUT, dry_run=True)
    assert (summary.contacts, summary.call_attempts, summary.answers, summary.escalations_kept) == (1, 1, 1, 1)
    assert (summary.escalation_notes, summary.sms_dialogues, summary.sms_messages, summary.sms_inbound) == (1, 1, 3, 1)
    assert snapshot(db_engine) == before
    with DbSession(db_engine) as db:
        assert db.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_purge_removes_personal_data_keeps_case_counts_and_is_audited(db_engine: Engine) -> None:
    ids = seed(db_engine)
    summary = purge(db_engine, CUT, actor="cli:test", batch=1)
    assert summary.contacts == 1 and summary.sms_messages == 3 and summary.sms_inbound == 1
    with DbSession(db_engine) as db:
        done = db.get(Contact, ids["done"])
        assert done is not None
        assert (done.phone, done.name, done.address, done.notes, done.alt_phone, done.birth_year) == (
            f"{PURGED}{ids['done']}", "", "", "", "", None)
        assert (done.category, done.district, done.monitoring_end) == ("F1", "Huế", dt.date(2021, 9, 10))
        kept = {c.id: c.phone for c in db.exec(select(Contact)).scalars()}  # type: ignore[call-overload]
        assert kept[ids["open_case"]] == "+84912000002" and kept[ids["current"]] == "+84912000003"
        attempt = db.exec(select(CallAttempt).where(col(CallAttempt.contact_id) == ids["done"])).scalar_one()  # type: ignore[call-overload]
        assert attempt.phone == "" and attempt.session is None and attempt.state == CallState.COMPLETED
        assert db.scalar(select(func.count()).select_from(Answer).where(col(Answer.contact_id) == ids["done"])) == 0
        assert db.scalar(select(func.count()).select_from(Answer)) == 2
        assert db.scalar(select(func.count()).select_from(Escalation)) == 3  # the reports' case counts
        notes = {e.text for e in db.exec(select(EscalationEvent)).scalars()}  # type: ignore[call-overload]
        assert notes == {"", "gọi cho vợ anh An"}  # the open case and the current person keep theirs
        dialogue = db.exec(select(SmsDialogue)).scalar_one()  # type: ignore[call-overload]
        assert dialogue.phone.startswith(PURGED) and dialogue.answers == {}
        messages = {m.text: m.phone for m in db.exec(select(SmsMessage)).scalars()}  # type: ignore[call-overload]
        assert messages["mới"] == "+84913000009" and None in messages and len(messages) == 2
        assert sorted(m.phone.startswith(PURGED) for m in db.exec(select(SmsMessage)).scalars()) == [  # type: ignore[call-overload]
            False, True, True, True]
        assert sorted(i.phone for i in db.exec(select(SmsInbound)).scalars()) == ["", "+84913000002"]  # type: ignore[call-overload]
        audit = db.exec(select(AuditLog)).scalar_one()  # type: ignore[call-overload]
        assert (audit.actor, audit.action, audit.object_id) == ("cli:test", "purge", "2021-10-01")
        assert audit.detail and audit.detail["contacts"] == 1 and audit.detail["sms_messages"] == 3
    again = purge(db_engine, CUT)
    assert (again.contacts, again.sms_messages, again.sms_inbound) == (0, 0, 0)


def test_cli_prints_a_vietnamese_first_summary_and_removes_old_audio(db_engine: Engine, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seed(db_engine)
    audio = tmp_path / "audio" / "cache" / "asterisk"
    audio.mkdir(parents=True)
    old, fresh = audio / ("a" * 32 + ".wav"), audio / ("b" * 32 + ".wav")
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (OLD.timestamp(), OLD.timestamp()))
    monkeypatch.setenv("AUDIO_DIR", str(tmp_path / "audio"))
    reset_settings()
    runner = CliRunner()
    missing = runner.invoke(cli, ["purge"])
    assert missing.exit_code == 2 and "RETENTION_DAYS" in missing.output
    dry = runner.invoke(cli, ["purge", "--before", "01/10/2021", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("Chạy thử, không thay đổi gì: theo dõi kết thúc trước 01/10/2021")
    assert old.exists()
    done = runner.invoke(cli, ["purge", "--before", "2021-10-01"])
    assert done.exit_code == 0, done.output
    assert "1 người được xoá dữ liệu cá nhân (people whose personal data is removed)" in done.output
    assert "1 người còn ca chưa đóng, giữ lại" in done.output
    assert not old.exists() and fresh.exists()
    monkeypatch.setenv("RETENTION_DAYS", "30")
    reset_settings()
    assert runner.invoke(cli, ["purge", "--dry-run"]).exit_code == 0
    bad = runner.invoke(cli, ["purge", "--before", "2099-01-01"])
    assert bad.exit_code == 2 and "--before" in bad.output


def test_migrate_command_upgrades_and_checks(db_url: str) -> None:
    reset_settings()
    runner = CliRunner()
    behind = runner.invoke(cli, ["migrate", "--check"])
    assert behind.exit_code == 1 and behind.output.startswith("Cần cập nhật (behind)")
    done = runner.invoke(cli, ["migrate"])
    assert done.exit_code == 0 and done.output.startswith("Cơ sở dữ liệu: (trống / empty) -> ")
    assert runner.invoke(cli, ["migrate", "--check"]).exit_code == 0
