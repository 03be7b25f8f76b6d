"""`robocall purge`: remove the personal data of follow-ups that ended before a day (robocall/purge.py)."""

from __future__ import annotations

import datetime as dt
import getpass

import click

from robocall.audio.retention import remove_renders, stale_renders
from robocall.config import get_settings
from robocall.db import make_engine
from robocall.migrate import upgrade
from robocall.purge import PurgeSummary, purge, unresolved_cases_kept

# (field, Vietnamese, English): what the summary prints, Vietnamese first.
LINES = [
    ("contacts", "người được xoá dữ liệu cá nhân", "people whose personal data is removed"),
    ("call_attempts", "cuộc gọi xoá số điện thoại và phiên", "call attempts losing number and session"),
    ("answers", "câu trả lời bị xoá", "answers deleted"),
    ("escalations_kept", "ca (escalation) giữ lại để thống kê", "cases kept for the reports"),
    ("escalation_notes", "ghi chú trên dòng thời gian bị xoá", "timeline notes cleared"),
    ("sms_dialogues", "hội thoại khai báo qua SMS", "SMS declaration dialogues"),
    ("sms_messages", "tin nhắn SMS xoá số và nội dung", "SMS losing number and text"),
    ("sms_inbound", "tin nhắn đến xoá số và nội dung", "inbound SMS losing number and text"),
    ("sms_invalid_numbers", "số không hợp lệ trong danh sách bị xoá", "unusable list numbers cleared"),
    ("audio_files", "tệp âm thanh đã tạo bị xoá", "rendered audio files removed"),
]


def summary_lines(summary: PurgeSummary, audio_files: int, before: dt.date, dry_run: bool, kept: int) -> list[str]:
    counts = {**vars(summary), "audio_files": audio_files}
    head_vi = "Chạy thử, không thay đổi gì" if dry_run else "Đã xoá dữ liệu cá nhân"
    head_en = "Dry run, nothing changed" if dry_run else "Personal data removed"
    lines = [f"{head_vi}: theo dõi kết thúc trước {before:%d/%m/%Y} ({head_en}: follow-up ended before {before})"]
    lines += [f"  {counts[key]:>9,} {vi} ({en})" for key, vi, en in LINES]
    if kept:
        lines.append(f"  {kept:>9,} người còn ca chưa đóng, giữ lại (people with a case still open, kept)")
    return lines


def _who() -> str:
    """The system user who ran it, for the audit row (systemd's timer: robocall)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


@click.command("purge")
@click.option("--before", "before_", type=click.DateTime(["%Y-%m-%d", "%d/%m/%Y"]), default=None,
              help="Remove data of follow-ups that ended before this day (YYYY-MM-DD or DD/MM/YYYY); "
                   "default: today minus RETENTION_DAYS.")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
def purge_command(before_: dt.datetime | None, dry_run: bool) -> None:
    """Xoá dữ liệu cá nhân hết hạn lưu giữ / Remove personal data past its retention (docs/deploy.md)."""
    settings = get_settings()
    today = dt.datetime.now(settings.tzinfo).date()
    if before_ is not None:
        before = before_.date()
    elif settings.retention_days:
        before = today - dt.timedelta(days=settings.retention_days)
    else:
        raise click.UsageError("cần --before NGÀY hoặc RETENTION_DAYS (need --before DATE or RETENTION_DAYS)")
    if before > today:
        raise click.BadParameter(f"{before} là ngày trong tương lai (is in the future)", param_hint="--before")
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        summary = purge(engine, before, dry_run=dry_run, actor=f"cli:{_who()}")
        kept = unresolved_cases_kept(engine, before)
    finally:
        engine.dispose()
    stale = stale_renders(settings.audio_dir, dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC))
    audio_files = len(stale) if dry_run else remove_renders(stale)
    click.echo("\n".join(summary_lines(summary, audio_files, before, dry_run, kept)))
