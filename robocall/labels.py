"""What staff read instead of identifiers: the catalogue of display names for the values the system
itself stores (call results, categories, roles, statuses, audit actions, the levels the code raises),
the urgency order of levels, and locale formatting of numbers, percentages, durations, dates and
times (Babel).

Answer keys, the values of choices and the levels of escalation rules are the flows' own: each flow
file names them (`label:`, `levels:`), and robocall.flows.vocabulary.Vocabulary.name looks every
name up, the flows' first and this catalogue's for the rest, for the web pages, the report and its
CSV/XLSX exports alike.  A value with no entry is shown with its underscores turned to spaces, never
as a bare identifier; tests/web/test_identifiers.py walks the pages and fails on any identifier that
reaches the screen.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    format_timedelta,
    get_datetime_format,
)
from babel.numbers import format_decimal, format_percent

# Most urgent first: the queue, its summary and the report list levels in this order; unknown
# levels go last, alphabetically.  The order is the province's triage policy, one for every flow (as
# ESCALATION_SLA is, per level): a flow names its levels but does not rank them, and a level new to
# this list sorts after the known ones until it is added here.
LEVEL_ORDER = ("urgent", "test", "callback", "watch", "home_visit", "report")

LOCALES = {"vi": "vi_VN", "en": "en_GB"}

# kind -> value -> (Vietnamese, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "level": {  # the levels the code raises itself; a flow that raises one must give it the same name
        "callback": ("Cần gọi lại", "Call back"),  # a missed hotline call (robocall.conversations.hotline)
        "home_visit": ("Đến nhà", "Home visit"),  # unreachable for days (the dialer's home visits)
    },
    "call": {  # call states and end reasons
        "queued": ("Chờ gọi", "Queued"),
        "dialling": ("Đang quay số", "Dialling"),
        "ringing": ("Đang đổ chuông", "Ringing"),
        "answered": ("Nghe máy", "Answered"),
        "completed": ("Trả lời hết", "Completed"),
        "busy": ("Máy bận", "Busy"),
        "no_answer": ("Không nghe máy", "No answer"),
        "failed": ("Lỗi", "Failed"),
        "machine": ("Hộp thư thoại", "Voicemail"),
        "ended": ("Đã kết thúc", "Ended"),
        "caller_hangup": ("Người nghe cúp máy", "Caller hung up"),
        "muted": ("Im lặng", "Silent"),
        "backend": ("Lỗi tổng đài", "Switch error"),
    },
    "direction": {
        "outbound": ("Gọi đi", "Outbound"),
        "inbound": ("Gọi đến", "Inbound"),
    },
    "category": {
        "F1": ("F1", "F1"),
        "F2": ("F2", "F2"),
        "returnee": ("Người về từ vùng dịch", "Returnee"),
        "other": ("Khác", "Other"),
    },
    "role": {
        "viewer": ("Xem", "Viewer"),
        "cdc_staff": ("Cán bộ CDC", "CDC staff"),
        "admin": ("Quản trị", "Administrator"),
    },
    "status": {  # campaigns (calls and SMS), escalations, callbacks
        "active": ("Đang chạy", "Active"),
        "running": ("Đang gửi", "Running"),
        "scheduled": ("Đã hẹn giờ", "Scheduled"),
        "loading": ("Đang nạp danh sách", "Loading"),
        "paused": ("Tạm dừng", "Paused"),
        "cancelled": ("Đã huỷ", "Cancelled"),
        "finished": ("Đã xong", "Finished"),
        "open": ("Mới", "Open"),
        "acknowledged": ("Đã tiếp nhận", "Acknowledged"),
        "resolved": ("Đã xử lý", "Resolved"),
        "pending": ("Chờ gọi", "Pending"),
        "done": ("Đã xong", "Done"),
    },
    "carrier": {  # SMS and calls: the network a number is on (stored as phonenumbers names it, any case)
        "viettel": ("Viettel", "Viettel"),
        "vinaphone": ("VinaPhone", "VinaPhone"),
        "mobifone": ("MobiFone", "MobiFone"),
        "vietnamobile": ("Vietnamobile", "Vietnamobile"),
        "gmobile": ("Gmobile", "Gmobile"),
        "itel": ("iTel", "iTel"),
        "itelecom": ("iTel", "iTel"),
        "reddi": ("Reddi", "Reddi"),
        "unknown": ("Không rõ nhà mạng", "Unknown network"),
        "": ("Không rõ nhà mạng", "Unknown network"),
    },
    "encoding": {  # robocall.text: how an SMS is encoded
        "GSM-7": ("GSM-7 (không dấu)", "GSM-7 (plain)"),
        "UCS-2": ("UCS-2 (có dấu)", "UCS-2 (Unicode)"),
    },
    "sms_kind": {
        "broadcast": ("Gửi theo danh sách", "Broadcast"),
        "transactional": ("Tin nhắn riêng (trả lời, hướng dẫn)", "Single messages (replies, advice)"),
    },
    "action": {  # audit log
        "contact_edit": ("Sửa hồ sơ", "Contact edited"),
        "contact_from_case": ("Tạo hồ sơ từ cảnh báo", "Contact made from a case"),
        "escalation": ("Xử lý cảnh báo", "Escalation handled"),
        "escalation_callback": ("Hẹn gọi lại", "Callback scheduled"),
        "escalation_acknowledge": ("Tiếp nhận cảnh báo", "Escalation acknowledged"),
        "escalation_assign": ("Giao cảnh báo", "Escalation assigned"),
        "escalation_note": ("Ghi chú cảnh báo", "Escalation note"),
        "escalation_resolve": ("Đóng cảnh báo", "Escalation resolved"),
        "escalation_reopen": ("Mở lại cảnh báo", "Escalation reopened"),
        "escalation_acknowledge_refused": ("Tiếp nhận bị từ chối", "Acknowledgement refused"),
        "escalation_assign_refused": ("Giao việc bị từ chối", "Assignment refused"),
        "escalation_note_refused": ("Ghi chú bị từ chối", "Note refused"),
        "escalation_resolve_refused": ("Đóng cảnh báo bị từ chối", "Resolution refused"),
        "escalation_reopen_refused": ("Mở lại bị từ chối", "Reopening refused"),
        "sms_campaign_pause": ("Tạm dừng chiến dịch SMS", "SMS campaign paused"),
        "sms_campaign_resume": ("Tiếp tục chiến dịch SMS", "SMS campaign resumed"),
        "sms_campaign_cancel": ("Huỷ chiến dịch SMS", "SMS campaign cancelled"),
        "sms_campaign_pause_refused": ("Tạm dừng SMS bị từ chối", "SMS pause refused"),
        "sms_campaign_resume_refused": ("Tiếp tục SMS bị từ chối", "SMS resume refused"),
        "sms_campaign_cancel_refused": ("Huỷ SMS bị từ chối", "SMS cancel refused"),
        "login_throttled": ("Đăng nhập bị chặn tạm thời", "Login throttled"),
        "user_unlock": ("Mở khoá người dùng", "User unlocked"),
        "escalation_task_cancel": ("Huỷ lịch gọi lại", "Callback cancelled"),
        "escalation_task_done": ("Đã gọi lại", "Callback done"),
        "export_line_list": ("Tải danh sách theo dõi", "Line list exported"),
        "export_report": ("Tải báo cáo", "Report exported"),
        "login": ("Đăng nhập", "Logged in"),
        "login_failed": ("Đăng nhập sai", "Failed login"),
        "logout": ("Đăng xuất", "Logged out"),
        "reveal_phone": ("Xem số điện thoại", "Phone number shown"),
        "search_contacts": ("Tìm người", "Contact search"),
        "user_add": ("Thêm người dùng", "User added"),
        "user_change": ("Sửa người dùng", "User changed"),
        "view_contact": ("Xem hồ sơ", "Contact viewed"),
        "view_escalation": ("Xem cảnh báo", "Escalation viewed"),
        "view_home_visits": ("Xem phiếu thăm nhà", "Home visits viewed"),
        "view_line_list": ("Xem danh sách theo dõi", "Line list viewed"),
        "view_queue": ("Xem hàng đợi", "Queue viewed"),
    },
    "object": {
        "contact": ("Hồ sơ", "Contact"),
        "escalation": ("Cảnh báo", "Escalation"),
        "report": ("Báo cáo", "Report"),
        "sms_campaign": ("Chiến dịch SMS", "SMS campaign"),
        "user": ("Người dùng", "User"),
    },
    "detail": {  # the details the audit log keeps with an action
        "as_of": ("Tính đến", "As of"), "assignee": ("Người phụ trách", "Assignee"),
        "callback": ("Gọi lại", "Callback"), "category": ("Nhóm", "Category"), "commune": ("Xã", "Commune"),
        "contact_id": ("Hồ sơ số", "Contact no."),
        "district": ("Huyện", "District"), "districts": ("Huyện phụ trách", "Districts"),
        "due_at": ("Hẹn lúc", "Due"), "error": ("Lỗi", "Error"), "escalation_id": ("Cảnh báo số", "Escalation no."),
        "event": ("Sự việc", "Event"), "event_id": ("Diễn biến số", "Event no."), "fields": ("Trường", "Fields"),
        "filters": ("Bộ lọc", "Filters"), "flow": ("Kịch bản", "Flow"), "format": ("Định dạng", "Format"),
        "from": ("Từ ngày", "From"), "kind": ("Loại", "Kind"), "kinds": ("Loại", "Kinds"), "level": ("Mức", "Level"),
        "list": ("Danh sách", "List"),
        "locked": ("Bị khoá", "Locked"), "options": ("Tuỳ chọn", "Options"), "page": ("Trang", "Page"),
        "phone": ("Số điện thoại", "Phone"), "q": ("Tìm", "Search"), "role": ("Vai trò", "Role"),
        "rows": ("Số dòng", "Rows"), "status": ("Trạng thái", "Status"), "task_id": ("Lịch gọi số", "Callback no."),
        "text": ("Nội dung", "Text"), "to": ("Đến ngày", "To"), "total": ("Tổng", "Total"),
        "username": ("Tên đăng nhập", "User name"), "via": ("Qua", "Via"),
    },
    "value": {  # values the system stores and shows as names: line lists, callback kinds, yes/no
        "symptomatic": ("Có triệu chứng", "Symptomatic"),
        "non_reporting": ("Không liên lạc được", "Non-reporting"),
        "monitoring": ("Đang theo dõi", "Under monitoring"),
        "closed": ("Kết thúc theo dõi", "Closed"),
        "staff_call": ("Cán bộ gọi", "Staff call"),
        "robot_call": ("Máy tự động gọi", "Robot call"),
        "yes": ("Có", "Yes"),
        "no": ("Không", "No"),
    },
}


# Kinds whose stored values come in any case ("Viettel", "viettel"): looked up lower-cased.
ANY_CASE = {"carrier"}


def label(kind: str, value: object, lang: str) -> str:
    """The display name of a stored value in `lang` ('vi' or 'en')."""
    text = "" if value is None else str(value)
    pair = LABELS.get(kind, {}).get(text.lower() if kind in ANY_CASE else text)
    if pair is not None:
        return pair[1] if lang == "en" else pair[0]
    return text.replace("_", " ")


def level_rank(level: str) -> tuple[int, str]:
    """Sort key: most urgent first, unknown levels after, by name."""
    return (LEVEL_ORDER.index(level), "") if level in LEVEL_ORDER else (len(LEVEL_ORDER), level)


def by_urgency(counts: dict[str, int]) -> dict[str, int]:
    return {level: counts[level] for level in sorted(counts, key=level_rank)}


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["vi"])


def number(value: float | int, lang: str) -> str:
    """2.592 in Vietnamese, 2,592 in English."""
    return format_decimal(value, locale=_locale(lang))


def percent(share: float, lang: str) -> str:
    """A share (0.543) as 54,3 % / 54.3%."""
    return format_percent(share, format="#,##0.0%", locale=_locale(lang))


def waiting(minutes: int, lang: str) -> str:
    """A waiting time, rounded the way people say it: '3 ngày', '2 giờ', '12 phút'."""
    return format_timedelta(dt.timedelta(minutes=int(minutes)), threshold=1.5, granularity="minute", locale=_locale(lang))


# How a date or a time is shown (`moment`, `day`): one place for every page, the report and the
# exports' headers.  Dates spell the month ("11 thg 8, 2021" / "11 Aug 2021"), never a bare 11/08
# that reads differently in other countries; each language orders date and time its own way.
DATE_TIME_KINDS = ("datetime", "date", "time", "seconds", "day_month")


def day(value: dt.date | None, lang: str, kind: str = "date") -> str:
    """A calendar day in `lang`: '11 thg 8, 2021' / '11 Aug 2021' (`day_month`: '11/8' / '11/08')."""
    if value is None:
        return ""
    if kind == "day_month":
        return format_skeleton("dM", value, locale=_locale(lang))
    return format_date(value, "medium", locale=_locale(lang))


def moment(value: dt.datetime | None, lang: str, tz: ZoneInfo | str, kind: str = "datetime") -> str:
    """An instant as the province's local time in `lang`.  A naive value is UTC (as stored).
    kind: `datetime` ('09:05 11 thg 8, 2021' / '11 Aug 2021, 09:05'), `seconds` (with seconds),
    `date`, `time` ('09:05') or `day_month`."""
    if value is None:
        return ""
    if kind not in DATE_TIME_KINDS:
        raise ValueError(f"unknown date/time kind {kind!r}: one of {', '.join(DATE_TIME_KINDS)}")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(zone)
    locale = _locale(lang)
    if kind in ("date", "day_month"):
        return day(local.date(), lang, kind)
    if kind == "time":
        return format_time(local, "short", tzinfo=zone, locale=locale)
    if kind == "seconds":
        return format_datetime(local, "medium", tzinfo=zone, locale=locale)
    # The locale's own order of date and time ("{1}, {0}" in English, "{0} {1}" in Vietnamese).
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("{0}", format_time(local, "short", tzinfo=zone, locale=locale)).replace(
        "{1}", format_date(local.date(), "medium", locale=locale))
