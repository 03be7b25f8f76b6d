"""The provincial report: every figure counted from the database, none kept on the side."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from robocall.flows.vocabulary import Vocabulary
from robocall.labels import by_urgency, day, number, percent
from robocall.models import (
    PERMANENT_FAILURE,
    CallAttempt,
    Category,
    Contact,
    Escalation,
    FollowUp,
    FollowUpState,
)
from robocall.sms_models import SENT_STATES, SmsMessage, list_messages, single_messages
from robocall.text import display_width, pad

F1_F2 = (Category.F1.value, Category.F2.value)


@dataclass
class ProvincialReport:
    period_from: str
    period_to: str
    outbound_calls_f1_f2: int
    outbound_calls_returnees: int
    outbound_calls_other: int
    inbound_hotline_calls: int
    calls_answered: int
    calls_completed: int
    contacts_called: int
    contacts_monitored: int
    non_reporting_contacts: int
    escalations_by_level: dict[str, int] = field(default_factory=dict)
    escalations_to_cdc: int = 0
    calls_escalated: int = 0  # calls (either direction) after which a flow's rule raised a case
    sms_sent: int | None = None  # campaign messages the carriers took (accepted or delivered) in the period
    # Single messages (robocall/conversations/outbox.py: replies of SMS declarations, a flow's advice after a call) the carriers
    # took, counted on the day of the call or SMS that caused them.
    sms_individual_sent: int = 0
    sms_declarations: int = 0  # health declarations by SMS (KB) that ended in the period
    # Calls that could not be placed at all and are not retried: an invalid number, a country the
    # telephony account may not call (robocall.models.PERMANENT_FAILURE): contacts for staff to fix.
    calls_failed_permanently: int = 0
    # The districts the figures are limited to (a district officer's); empty: the whole province.
    districts: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# key: (Vietnamese, English); the report on screen and its CSV/XLSX are in the reader's language.
LABELS: dict[str, tuple[str, str]] = {
    "outbound_calls_f1_f2": ("Cuộc gọi tự động tới F1/F2", "Robot calls to F1/F2"),
    "outbound_calls_returnees": ("Cuộc gọi tự động tới người về từ vùng dịch", "Robot calls to returnees"),
    "outbound_calls_other": ("Cuộc gọi tự động tới đối tượng khác", "Robot calls to others"),
    "inbound_hotline_calls": ("Cuộc gọi đến đường dây nóng", "Hotline calls"),
    "sms_declarations": ("Khai báo y tế qua tin nhắn SMS (KB)", "Health declarations by SMS (KB)"),
    "calls_answered": ("Cuộc gọi được nghe máy", "Calls answered"),
    "calls_completed": ("Cuộc gọi trả lời hết câu hỏi", "Calls with every question answered"),
    "contacts_called": ("Số người được gọi", "People called"),
    "contacts_monitored": ("Số người đang theo dõi", "People under monitoring"),
    "non_reporting_contacts": ("Số người không liên lạc được trong ngày", "People not reached in a day"),
    "calls_failed_permanently": ("Số không gọi được (không hợp lệ, chưa được phép)",
                                 "Numbers that cannot be called (invalid, not allowed)"),
    "escalations_to_cdc": ("Trường hợp chuyển CDC", "Cases sent to the CDC"),
}

ESCALATED_SHARE = ("Tỷ lệ cuộc gọi dẫn tới phân loại", "Share of calls that raised a case")
SMS_SENT = ("Tin nhắn SMS đã gửi theo chiến dịch", "Campaign SMS sent")
SMS_INDIVIDUAL = ("Tin nhắn SMS riêng (trả lời, hướng dẫn)", "Single SMS (replies, advice)")
LEVEL_ROW = ("Cảnh báo mức {level}", "Escalations: {level}")
# Whose figures: a district officer's report says which districts it counts.
DISTRICTS = ("Huyện", "Districts")
WHOLE_PROVINCE = ("Toàn tỉnh", "Whole province")


def in_language(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def coverage(report: ProvincialReport, lang: str = "vi") -> str:
    """Whose figures these are: the districts counted, or the whole province."""
    return ", ".join(report.districts) if report.districts else in_language(WHOLE_PROVINCE, lang)


def report_rows(report: ProvincialReport, names: Vocabulary, lang: str = "vi") -> list[tuple[str, str, int | str]]:
    """(key, label in `lang`, value) for every figure, the levels included (most urgent first, named
    by the flows in `names`): one source for the screen, the CSV and the XLSX."""
    rows: list[tuple[str, str, int | str]] = [
        (key, in_language(pair, lang), getattr(report, key)) for key, pair in LABELS.items()]
    for level, count in report.escalations_by_level.items():
        name = names.name("level", level, lang)
        rows.append((f"escalations_{level}", in_language(LEVEL_ROW, lang).format(level=name), count))
    rows.append(("sms_sent", in_language(SMS_SENT, lang), "" if report.sms_sent is None else report.sms_sent))
    rows.append(("sms_individual_sent", in_language(SMS_INDIVIDUAL, lang), report.sms_individual_sent))
    return rows


def provincial_report(engine: Engine, start: dt.date | None, end: dt.date | None, timezone: str,
                      districts: tuple[str, ...] = ()) -> ProvincialReport:
    """Figures for local days `start`..`end` inclusive (open-ended when None).

    `districts` (a district officer's, robocall.web.scope) limits every figure to the people of those
    districts: calls, follow-ups and cases through their contact (a hotline caller or a case with no
    contact is the province's alone, as on the queue), SMS through the contact whose number it went to.
    """
    tz = ZoneInfo(timezone)
    lower = dt.datetime.combine(start, dt.time.min, tz).astimezone(dt.UTC) if start else None
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tz).astimezone(dt.UTC) if end else None

    def in_period(column):  # type: ignore[no-untyped-def]
        conditions = []
        if lower is not None:
            conditions.append(column >= lower)
        if upper is not None:
            conditions.append(column < upper)
        return conditions

    def in_days(column):  # type: ignore[no-untyped-def]
        conditions = []
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column <= end)
        return conditions

    def of_people(contact_id):  # type: ignore[no-untyped-def]
        """A row's contact is one of the districts' (no condition for the province)."""
        if not districts:
            return []
        return [col(contact_id).in_(select(Contact.id).where(col(Contact.district).in_(districts)))]

    def to_people(phone):  # type: ignore[no-untyped-def]
        if not districts:
            return []
        return [col(phone).in_(select(Contact.phone).where(col(Contact.district).in_(districts)))]

    voice = CallAttempt.channel == "voice"  # health declarations by SMS are counted apart, not as calls
    calls_here = of_people(CallAttempt.contact_id)
    with DbSession(engine) as db:
        attempts = select(CallAttempt.direction, Contact.category, func.count()).join(
            Contact, col(Contact.id) == CallAttempt.contact_id, isouter=True
        ).where(voice, *calls_here, *in_period(col(CallAttempt.queued_at))).group_by(CallAttempt.direction, Contact.category)
        outbound = {"f1_f2": 0, "returnee": 0, "other": 0}
        inbound = 0
        for direction, category, count in db.exec(attempts).all():
            if direction == "inbound":
                inbound += count
            elif category in F1_F2:
                outbound["f1_f2"] += count
            elif category == Category.RETURNEE:
                outbound["returnee"] += count
            else:
                outbound["other"] += count
        answered = db.exec(select(func.count()).select_from(CallAttempt).where(
            voice, col(CallAttempt.answered_at).is_not(None), *calls_here, *in_period(col(CallAttempt.queued_at)))).one()
        completed = db.exec(select(func.count()).select_from(CallAttempt).where(
            voice, CallAttempt.end_reason == "completed", *calls_here, *in_period(col(CallAttempt.queued_at)))).one()
        failed_for_good = db.exec(select(func.count()).select_from(CallAttempt).where(
            voice, col(CallAttempt.end_reason).startswith(PERMANENT_FAILURE), *calls_here, *in_period(col(CallAttempt.queued_at)))).one()
        declarations = db.exec(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.channel == "sms", *calls_here, *in_period(col(CallAttempt.ended_at)))).one()
        called = db.exec(select(func.count(func.distinct(CallAttempt.contact_id))).where(
            CallAttempt.direction == "outbound", *calls_here, *in_period(col(CallAttempt.queued_at)))).one()
        # Daily follow-ups only: a callback staff scheduled on a case is not monitoring.
        daily = col(FollowUp.escalation_id).is_(None)
        follow_ups_here = of_people(FollowUp.contact_id)
        cases_here = of_people(Escalation.contact_id)
        monitored = db.exec(select(func.count(func.distinct(FollowUp.contact_id))).where(
            daily, *follow_ups_here, *in_days(col(FollowUp.day)))).one()
        non_reporting = db.exec(select(func.count(func.distinct(FollowUp.contact_id))).where(
            daily, FollowUp.state == FollowUpState.UNREACHED, *follow_ups_here, *in_days(col(FollowUp.day)))).one()
        levels = dict(db.exec(select(Escalation.level, func.count()).where(
            *cases_here, *in_period(col(Escalation.created_at))).group_by(Escalation.level)).all())
        escalated = db.exec(select(func.count(func.distinct(Escalation.attempt_id))).join(
            CallAttempt, col(CallAttempt.id) == Escalation.attempt_id).where(
            voice, *cases_here, *in_period(col(CallAttempt.queued_at)))).one()
        to_cdc = db.exec(select(func.count()).select_from(Escalation).where(
            Escalation.notify_cdc == True, *cases_here, *in_period(col(Escalation.created_at)))).one()  # noqa: E712
        sent = col(SmsMessage.state).in_(SENT_STATES)
        sms_here = to_people(SmsMessage.phone)
        sms_sent = db.exec(select(func.count()).select_from(SmsMessage).where(
            sent, list_messages(), *sms_here, *in_period(col(SmsMessage.accepted_at)))).one()
        individual = db.exec(select(func.count()).select_from(SmsMessage).where(
            sent, single_messages(), *sms_here, *in_period(col(SmsMessage.queued_at)))).one()
    return ProvincialReport(
        period_from=start.isoformat() if start else "", period_to=end.isoformat() if end else "",
        outbound_calls_f1_f2=outbound["f1_f2"], outbound_calls_returnees=outbound["returnee"],
        outbound_calls_other=outbound["other"], inbound_hotline_calls=inbound,
        calls_answered=answered, calls_completed=completed, contacts_called=called,
        contacts_monitored=monitored, non_reporting_contacts=non_reporting,
        escalations_by_level=by_urgency(levels), escalations_to_cdc=to_cdc,
        calls_escalated=escalated, sms_sent=sms_sent,
        sms_individual_sent=individual, sms_declarations=declarations, calls_failed_permanently=failed_for_good,
        districts=list(districts),
    )


# The text report's title, section heading and "no SMS campaign" note, in both languages.
TITLE = ("BÁO CÁO HỆ THỐNG GỌI ĐIỆN TỰ ĐỘNG", "AUTOMATED CALL SYSTEM REPORT")
BY_LEVEL = ("Phân loại theo mức độ:", "Escalations by level:")
NO_SMS_CAMPAIGN = ("chưa có chiến dịch SMS", "no SMS campaign")
FIGURE_WIDTH = 10  # at least; a wider figure widens the column for every row


def format_report(report: ProvincialReport, names: Vocabulary, lang: str = "vi") -> str:
    """The report as text for the CLI and the demo, in `lang` (Vietnamese by default): labels, level
    names (from the flows, `names`) and numbers in the language (2.592; 54,3%).  Columns are measured
    in display width, not code points, and the label column is as wide as its longest label: every
    figure lines up."""
    def day_text(iso: str) -> str:
        return day(dt.date.fromisoformat(iso), lang) if iso else "…"

    calls = (report.outbound_calls_f1_f2 + report.outbound_calls_returnees + report.outbound_calls_other
             + report.inbound_hotline_calls)
    rows: list[tuple[str, str | None]] = [  # (label with its indent, figure; None: a heading)
        (f"  {in_language(pair, lang)}", number(getattr(report, key), lang)) for key, pair in LABELS.items()]
    rows.append((f"  {in_language(ESCALATED_SHARE, lang)}",
                 percent(report.calls_escalated / calls, lang) if calls else "–"))
    rows.append((f"  {in_language(BY_LEVEL, lang)}", None))
    rows += [(f"    {names.name('level', level, lang)}", number(count, lang))
             for level, count in report.escalations_by_level.items()]
    rows.append((f"  {in_language(SMS_SENT, lang)}", "–" if report.sms_sent is None else number(report.sms_sent, lang)))
    rows.append((f"  {in_language(SMS_INDIVIDUAL, lang)}", number(report.sms_individual_sent, lang)))
    label_width = max(display_width(name) for name, figure in rows if figure is not None)
    figure_width = max([FIGURE_WIDTH] + [display_width(figure) for _, figure in rows if figure is not None])
    lines = [f"{in_language(TITLE, lang)} ({day_text(report.period_from)} → {day_text(report.period_to)})"]
    if report.districts:
        lines.append(f"  {in_language(DISTRICTS, lang)}: {coverage(report, lang)}")
    for name, figure in rows:
        lines.append(name if figure is None else f"{pad(name, label_width)}  {pad(figure, figure_width, right=True)}")
    if report.sms_sent is None:  # after the column, which stays as wide as the figures
        lines[-2] += f"  ({in_language(NO_SMS_CAMPAIGN, lang)})"
    return "\n".join(lines)
