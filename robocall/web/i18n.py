"""Vietnamese first, English on request: `?lang=en` (remembered in a cookie) or the cookie alone."""

from __future__ import annotations

from aiohttp import web

LANGUAGES = ("vi", "en")
LANG_COOKIE = "lang"

# key: (Vietnamese, English).  Keys are short English names; a missing key shows itself, which
# a test catches.
TEXTS: dict[str, tuple[str, str]] = {
    "app_title": ("Giám sát dịch tễ – CDC", "Epidemic tracing – CDC"),
    "queue": ("Hàng đợi cảnh báo", "Escalation queue"),
    "lists": ("Danh sách theo dõi", "Line lists"),
    "contacts": ("Tìm người", "Contact search"),
    "campaigns": ("Chiến dịch", "Campaigns"),
    "flows": ("Kịch bản gọi", "Call flows"),
    "reports": ("Báo cáo", "Reports"),
    "audit": ("Nhật ký truy cập", "Audit log"),
    "users": ("Người dùng", "Users"),
    "settings": ("Cấu hình", "Settings"),
    "variable": ("Biến", "Variable"),
    "settings_hint": ("Cấu hình đọc từ biến môi trường hoặc tệp .env; sửa ở đó rồi khởi động lại máy chủ.",
                      "Settings come from environment variables or .env; change them there and restart the server."),
    "login": ("Đăng nhập", "Log in"),
    "logout": ("Đăng xuất", "Log out"),
    "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "login_failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "login_locked": ("Tài khoản tạm khoá do đăng nhập sai nhiều lần. Thử lại sau",
                     "Too many failed logins. Try again after"),
    "role": ("Vai trò", "Role"),
    "level": ("Mức độ", "Level"),
    "status": ("Trạng thái", "Status"),
    "district": ("Huyện", "District"),
    "commune": ("Xã", "Commune"),
    "category": ("Đối tượng", "Category"),
    "all": ("Tất cả", "All"),
    "unresolved": ("Chưa xử lý xong", "Not resolved"),
    "open": ("Mới", "Open"),
    "acknowledged": ("Đã tiếp nhận", "Acknowledged"),
    "resolved": ("Đã xử lý", "Resolved"),
    "filter": ("Lọc", "Filter"),
    "flagged": ("Phát hiện lúc", "Flagged at"),
    "waiting": ("Thời gian chờ", "Waiting"),
    "person": ("Người", "Person"),
    "phone": ("Số điện thoại", "Phone"),
    "reveal": ("Hiện số", "Show number"),
    "reason": ("Lý do", "Reason"),
    "rule": ("Quy tắc", "Rule"),
    "condition": ("Điều kiện", "Condition"),
    "flow": ("Kịch bản", "Flow"),
    "assignee": ("Người phụ trách", "Assignee"),
    "outcome": ("Kết quả", "Outcome"),
    "timeline": ("Diễn biến", "Timeline"),
    "calls": ("Các cuộc gọi", "Calls"),
    "answers": ("Câu trả lời", "Answers"),
    "day": ("Ngày", "Day"),
    "time": ("Giờ", "Time"),
    "direction": ("Chiều", "Direction"),
    "result": ("Kết quả gọi", "Call result"),
    "actions": ("Xử lý", "Actions"),
    "acknowledge": ("Tiếp nhận", "Acknowledge"),
    "assign": ("Giao cho", "Assign"),
    "note": ("Ghi chú", "Note"),
    "add_note": ("Thêm ghi chú", "Add note"),
    "callback": ("Đề nghị gọi lại", "Ask for a callback"),
    "resolve": ("Đóng trường hợp", "Resolve"),
    "newest_first": ("Mới nhất trước", "Newest first"),
    "oldest_first": ("Lâu nhất trước", "Oldest first"),
    "sort": ("Sắp xếp", "Sort"),
    "live": ("Tự cập nhật", "Live"),
    "overdue": ("quá hạn", "overdue"),
    "new_escalations": ("Có cảnh báo mới", "New escalations"),
    "no_rows": ("Không có dữ liệu.", "Nothing here."),
    "shown_of": ("Hiển thị {shown} / {total}", "Showing {shown} of {total}"),
    "symptomatic": ("Có triệu chứng", "Symptomatic"),
    "non_reporting": ("Không liên lạc được", "Non-reporting"),
    "monitoring": ("Đang theo dõi", "Under monitoring"),
    "closed": ("Kết thúc theo dõi", "Closed"),
    "as_of": ("Tính đến ngày", "As of"),
    "name": ("Họ tên", "Name"),
    "exposure_date": ("Ngày tiếp xúc / về", "Exposure / return date"),
    "monitoring_end": ("Hết theo dõi", "Monitoring ends"),
    "last_call": ("Cuộc gọi gần nhất", "Last call"),
    "open_cases": ("Cảnh báo chưa đóng", "Open escalations"),
    "search": ("Tìm", "Search"),
    "search_hint": ("Tên hoặc các số cuối của điện thoại", "Name or last digits of the phone"),
    "progress": ("Tiến độ", "Progress"),
    "answer_rate": ("Tỉ lệ nghe máy", "Answer rate"),
    "calls_per_day": ("Cuộc gọi mỗi ngày", "Calls per day"),
    "escalations_per_day": ("Cảnh báo mỗi ngày", "Escalations per day"),
    "attempts": ("Lượt gọi", "Call attempts"),
    "answered": ("Nghe máy", "Answered"),
    "follow_ups": ("Lượt theo dõi (người × ngày)", "Follow-ups (person × day)"),
    "reached": ("Liên lạc được", "Reached"),
    "unreached": ("Không liên lạc được", "Unreached"),
    "escalations": ("Cảnh báo", "Escalations"),
    "sms_campaigns": ("Chiến dịch SMS", "SMS campaigns"),
    "sms_coming": ("Chưa có chiến dịch SMS.", "No SMS campaigns yet."),
    "valid": ("Hợp lệ", "Valid"),
    "refused": ("Bị từ chối", "Refused"),
    "problems": ("Lỗi", "Problems"),
    "nodes": ("Số bước", "Nodes"),
    "languages": ("Ngôn ngữ", "Languages"),
    "version": ("Phiên bản", "Version"),
    "from": ("Từ ngày", "From"),
    "to": ("Đến ngày", "To"),
    "show": ("Xem", "Show"),
    "download": ("Tải về", "Download"),
    "figure": ("Chỉ tiêu", "Figure"),
    "value": ("Số lượng", "Value"),
    "by_level": ("Phân loại theo mức độ", "By level"),
    "actor": ("Người thực hiện", "Actor"),
    "action": ("Thao tác", "Action"),
    "object": ("Đối tượng dữ liệu", "Object"),
    "detail": ("Chi tiết", "Detail"),
    "add_user": ("Thêm người dùng", "Add user"),
    "active": ("Đang hoạt động", "Active"),
    "disabled": ("Đã khoá", "Disabled"),
    "save": ("Lưu", "Save"),
    "create": ("Tạo", "Create"),
    "last_login": ("Đăng nhập gần nhất", "Last login"),
    "other_escalations": ("Cảnh báo khác của người này", "This person's other escalations"),
    "opted_out": ("Từ chối nhận cuộc gọi", "Opted out"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "contact": ("Hồ sơ người theo dõi", "Contact"),
    "api": ("API", "API"),
    "forbidden": ("Bạn không có quyền làm việc này.", "Your role may not do this."),
    "sla": ("Hạn tiếp nhận", "Acknowledge within"),
    "minutes": ("phút", "min"),
    "saved": ("Đã lưu.", "Saved."),
    # Outcomes of a resolved escalation.
    "outcome_tested": ("Đã lấy mẫu xét nghiệm", "Tested"),
    "outcome_hospital": ("Chuyển bệnh viện", "Sent to hospital"),
    "outcome_home_isolation": ("Cách ly tại nhà", "Isolating at home"),
    "outcome_visited": ("Đã đến nhà", "Visited at home"),
    "outcome_false_alarm": ("Báo nhầm", "False alarm"),
    "outcome_unreachable": ("Không liên lạc được", "Could not be reached"),
    "outcome_other": ("Khác", "Other"),
    # Timeline event kinds.
    "event_created": ("Phát hiện", "Flagged"),
    "event_again": ("Lặp lại ở cuộc gọi sau", "Again on a later call"),
    "event_acknowledged": ("Tiếp nhận", "Acknowledged"),
    "event_assigned": ("Giao việc", "Assigned"),
    "event_note": ("Ghi chú", "Note"),
    "event_callback": ("Đề nghị gọi lại", "Callback asked"),
    "event_resolved": ("Đóng", "Resolved"),
}

OUTCOMES = ("tested", "hospital", "home_isolation", "visited", "false_alarm", "unreachable", "other")


def pick_language(request: web.Request) -> str:
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or "vi"
    return asked if asked in LANGUAGES else "vi"


def translate(key: str, lang: str, **values: object) -> str:
    pair = TEXTS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text


@web.middleware
async def language_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    response = await handler(request)
    asked = request.query.get("lang")
    if asked in LANGUAGES and isinstance(response, web.Response) and not response.prepared:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
