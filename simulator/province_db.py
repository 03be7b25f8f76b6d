"""A province's database at any size, for measuring the dashboard: contacts, their daily follow-ups,
calls, answers, escalations with their timelines and callbacks (four in five resolved), hotline calls, SMS campaigns and their
messages, the audit log.

Contacts come from Python (generated Vietnamese names, as `bench/contact_search.py` searches them);
everything else is written by set-based statements in the database itself (`generate_series` on
PostgreSQL, a recursive CTE on SQLite), so ten million messages take a minute, not an hour.

Proportions (for `contacts` = N): a fifth of the contacts are followed, over the last FOLLOW_UP_DAYS
days up to `today` (N follow-ups in all), 85 % reached at the first call, the rest called twice and
not reached; two answers a reached call; a case for one reached call in 50 (levels and states mixed,
a timeline row each, a staff callback for one in 10), a home visit for one unreached follow-up in 20;
hotline calls for N / 100 callers on no list; `messages` SMS over SMS_CAMPAIGNS broadcast campaigns
(one in 100 a single message of the standing transactional campaign, spread among them); an audit
entry for N / 5 page views.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, Engine

from robocall.models import Contact, contact_search_keys

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Tôn Thất", "Lương", "Đinh", "Trịnh"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Xuân", "Gia", "Bảo", "Kim"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Đức", "Giang", "Hà", "Hải", "Hạnh", "Hòa", "Hùng", "Hương", "Khánh",
         "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc", "Nhung", "Phúc", "Phương", "Quang", "Sơn",
         "Tâm", "Thảo", "Thắng", "Thủy", "Trang", "Trung", "Tuấn", "Vân", "Việt", "Yến"]
DISTRICTS = ["Thành phố Huế", "Thị xã Hương Thủy", "Thị xã Hương Trà", "Huyện Phú Lộc", "Huyện Phú Vang",
             "Huyện Quảng Điền", "Huyện Phong Điền", "Huyện A Lưới", "Huyện Nam Đông"]
COMMUNES_PER_DISTRICT = 12
CATEGORIES = ["F1", "F1", "F1", "F1", "F2", "F2", "F2", "returnee", "returnee", "other"]
FOLLOW_UP_DAYS = 5
SMS_CAMPAIGNS = 12
LEVELS = ("urgent", "watch", "callback", "report")
CONTACT_CHUNK = 20_000


def fill_contacts(engine: Engine, contacts: int, *, details: bool = False,
                  first_exposure: dt.date = dt.date(2021, 8, 1)) -> None:
    """`contacts` contacts with generated names (+8491NNNNNNN); with `details`, also a district, commune,
    category, exposure date (within 30 days from `first_exposure`, followed 14 days) and a few opt-outs,
    drawn from a second generator so the names are the same either way."""
    rng, other = random.Random(11), random.Random(12)
    table = Contact.__table__  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        for start in range(0, contacts, CONTACT_CHUNK):
            rows = []
            for n in range(start, min(start + CONTACT_CHUNK, contacts)):
                row = {"phone": f"+8491{n:07d}", "name": f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
                       "category": "F1", "district": "", "commune": "", "address": "", "notes": "", "alt_phone": "",
                       "language": "vi", "carrier": "", "opted_out": False, "source_list": "bench", "created_at": now,
                       "updated_at": now}
                if details:
                    district = other.randrange(len(DISTRICTS))
                    exposed = first_exposure + dt.timedelta(days=other.randrange(30))
                    row.update(category=other.choice(CATEGORIES), district=DISTRICTS[district],
                               commune=f"Xã {district + 1}-{other.randrange(COMMUNES_PER_DISTRICT) + 1}",
                               exposure_date=exposed, monitoring_end=exposed + dt.timedelta(days=14),
                               opted_out=other.random() < 0.01, birth_year=1940 + other.randrange(70))
                rows.append(contact_search_keys(row))
            connection.execute(insert(table), rows)


@dataclass(frozen=True)
class Sql:
    """The few expressions that differ between the two databases."""
    dialect: str

    def numbers(self, count: int, alias: str = "g") -> str:
        """A FROM item of the integers 1..count, as column `i` of `alias`."""
        if self.dialect == "postgresql":
            return f"generate_series(1, {int(count)}) AS {alias}(i)"
        return (f"(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {int(count)}) "
                f"SELECT i FROM g) AS {alias}")

    def day(self, base: dt.date, offset: str) -> str:
        if self.dialect == "postgresql":
            return f"(DATE '{base.isoformat()}' + ({offset})::int)"
        return f"date('{base.isoformat()}', '+' || ({offset}) || ' days')"

    def at(self, base: dt.datetime, minutes: str) -> str:
        """`base` (UTC) plus a number of minutes."""
        stamp = base.strftime("%Y-%m-%d %H:%M:%S")
        if self.dialect == "postgresql":
            return f"(TIMESTAMPTZ '{stamp}+00' + ({minutes}) * INTERVAL '1 minute')"
        return f"datetime('{stamp}', '+' || ({minutes}) || ' minutes')"

    def at_day(self, day_column: str, minutes: str) -> str:
        """A time on the day held by `day_column` (UTC, minutes after midnight)."""
        if self.dialect == "postgresql":
            return f"(({day_column})::timestamp AT TIME ZONE 'UTC' + ({minutes}) * INTERVAL '1 minute')"
        return f"datetime({day_column}, '+' || ({minutes}) || ' minutes')"

    def padded(self, number: str, width: int) -> str:
        if self.dialect == "postgresql":
            return f"lpad(({number})::text, {width}, '0')"
        return f"printf('%0{width}d', {number})"

    def json(self, value: str) -> str:
        return f"CAST({value} AS JSON)" if self.dialect == "postgresql" else value


def fill_province(engine: Engine, *, messages: int, today: dt.date) -> dict[str, int]:
    """Everything but the contacts (already written, ids 1..N) for a campaign running up to `today`.
    Returns ids the walk of the pages needs (a case, a contact with calls, campaigns)."""
    sql = Sql(engine.dialect.name)
    with engine.begin() as c:
        contacts = int(c.execute(text("SELECT max(id) FROM contact")).scalar() or 0)
        first_day = today - dt.timedelta(days=FOLLOW_UP_DAYS - 1)
        midnight = dt.datetime.combine(first_day, dt.time(), dt.UTC)
        # Followed contacts monitor up to after today (the monitoring list has them).
        c.execute(text(f"UPDATE contact SET exposure_date = {sql.day(first_day - dt.timedelta(days=3), '0')}, "
                       f"monitoring_end = {sql.day(today, 'id % 9')} WHERE id % 5 = 0"))
        c.execute(text("INSERT INTO callcampaign (name, flow, categories, status, created_at) VALUES "
                       "('Theo dõi F1/F2', 'f1_f2_followup', 'F1,F2', 'active', :at), "
                       "('Người về từ vùng dịch', 'returnee_followup', 'returnee,other', 'active', :at)"),
                  {"at": midnight})
        f1, returnee = (int(r[0]) for r in c.execute(text("SELECT id FROM callcampaign ORDER BY id")).all())
        _follow_ups(c, sql, contacts, first_day, today, f1, returnee)
        _calls(c, sql)
        _escalations(c, sql, midnight)
        _hotline(c, sql, contacts, first_day, midnight)
        sms = _sms(c, sql, messages, midnight)
        c.execute(text(f"INSERT INTO auditlog (at, actor, action, object_type, object_id) "
                       f"SELECT {sql.at(midnight, 'i % 7000')}, CASE WHEN i % 3 = 0 THEN 'can_bo' ELSE 'quan_tri' END, "
                       f"CASE WHEN i % 10 = 0 THEN 'reveal_phone' ELSE 'view_escalation' END, 'escalation', "
                       f"CAST(i AS TEXT) FROM {sql.numbers(max(contacts // 5, 1))}"))
        case = c.execute(text("SELECT e.id, e.contact_id FROM escalation e WHERE e.contact_id IS NOT NULL "
                              "AND e.status = 'open' ORDER BY e.id LIMIT 1")).one()
        hotline_case = c.execute(text("SELECT id FROM escalation WHERE contact_id IS NULL AND attempt_id IS NOT NULL "
                                      "ORDER BY id LIMIT 1")).scalar()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        # VACUUM too on PostgreSQL: the visibility map lets index-only scans skip the table, as autovacuum would.
        c.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    return {"campaign": f1, "escalation": int(case[0]), "contact": int(case[1]),
            "hotline_escalation": int(hotline_case or case[0]), **sms}


def _follow_ups(c: Connection, sql: Sql, contacts: int, first_day: dt.date, today: dt.date, f1: int,
                returnee: int) -> None:
    # Contact n*5 on day d: one follow-up a day; today's last fifth still pending (calls going out).
    days = FOLLOW_UP_DAYS
    c.execute(text(
        f"INSERT INTO followup (campaign_id, contact_id, day, state, next_try_at, attempts, unreachable_streak, flow) "
        f"SELECT CASE WHEN ct.category IN ('F1', 'F2') THEN {f1} ELSE {returnee} END, ct.id, "
        f"{sql.day(first_day, 'd.i - 1')}, "
        f"CASE WHEN d.i = {days} AND ct.id % 25 = 0 THEN 'pending' "
        f"WHEN (ct.id / 5 + d.i) % 7 = 0 THEN 'unreached' ELSE 'reached' END, "
        f"CASE WHEN d.i = {days} AND ct.id % 25 = 0 THEN {sql.at_day(sql.day(today, '0'), '600')} END, "
        f"1, CASE WHEN (ct.id / 5 + d.i) % 7 = 0 THEN 1 ELSE 0 END, '' "
        f"FROM contact ct CROSS JOIN {sql.numbers(days, 'd')} WHERE ct.id % 5 = 0"))


def _calls(c: Connection, sql: Sql) -> None:
    # One call a follow-up that is over; an unreached one was tried twice.
    at = sql.at_day("f.day", "120 + f.contact_id % 600")
    c.execute(text(
        "INSERT INTO callattempt (campaign_id, contact_id, phone, flow, direction, channel, day, attempt_number, "
        "state, backend, backend_call_id, caller_id, queued_at, dialled_at, answered_at, ended_at, end_reason, "
        "follow_up_id) "
        f"SELECT f.campaign_id, f.contact_id, ct.phone, 'f1_f2_followup', 'outbound', 'voice', f.day, n.i, "
        f"CASE WHEN f.state = 'reached' THEN 'completed' ELSE 'no_answer' END, 'sim', '', '', {at}, {at}, "
        f"CASE WHEN f.state = 'reached' THEN {at} END, {at}, "
        f"CASE WHEN f.state = 'reached' THEN 'completed' ELSE '' END, f.id "
        f"FROM followup f JOIN contact ct ON ct.id = f.contact_id CROSS JOIN {sql.numbers(2, 'n')} "
        "WHERE f.state IN ('reached', 'unreached') AND (n.i = 1 OR f.state = 'unreached') "
        "ORDER BY f.day, f.id, n.i"))
    for question, node, value, keys in (("fever", "q_sot", "CASE WHEN a.id % 40 = 0 THEN 'true' ELSE 'false' END",
                                         "CASE WHEN a.id % 40 = 0 THEN '1' ELSE '2' END"),
                                        ("temperature", "q_nhiet", "'36.6'", "'366#'")):
        c.execute(text(
            "INSERT INTO answer (attempt_id, contact_id, question, node, value, keys, recorded_at) "
            f"SELECT a.id, a.contact_id, '{question}', '{node}', {sql.json(value)}, {keys}, a.ended_at "
            "FROM callattempt a WHERE a.state = 'completed' ORDER BY a.id"))


def _escalations(c: Connection, sql: Sql, midnight: dt.datetime) -> None:
    levels = " ".join(f"WHEN {i} THEN '{lv}'" for i, lv in enumerate(LEVELS))
    c.execute(text(
        "INSERT INTO escalation (contact_id, attempt_id, flow, rule, level, reason, notify_cdc, callback, status, "
        "assignee, outcome, created_at, acknowledged_at, resolved_at) "
        f"SELECT a.contact_id, a.id, a.flow, 'co_trieu_chung', CASE (a.id / 50) % {len(LEVELS)} {levels} END, "
        "'Có triệu chứng', (a.id / 50) % 4 < 2, (a.id / 50) % 4 = 2, "
        "CASE WHEN (a.id / 50) % 10 < 8 THEN 'resolved' WHEN (a.id / 50) % 10 = 8 THEN 'acknowledged' ELSE 'open' END, "
        "CASE WHEN (a.id / 50) % 10 >= 7 THEN 'can_bo' ELSE '' END, '', a.ended_at, "
        "CASE WHEN (a.id / 50) % 10 < 9 THEN a.ended_at END, CASE WHEN (a.id / 50) % 10 < 8 THEN a.ended_at END "
        "FROM callattempt a WHERE a.state = 'completed' AND a.id % 50 = 0 ORDER BY a.id"))
    # Home visits: no answer two days running (no call of their own).
    c.execute(text(
        "INSERT INTO escalation (contact_id, attempt_id, flow, rule, level, reason, notify_cdc, callback, status, "
        "assignee, outcome, created_at) "
        f"SELECT f.contact_id, NULL, 'f1_f2_followup', 'unreachable_2_days', 'home_visit', 'Không liên lạc được', "
        f"1 = 1, 1 = 0, CASE WHEN f.id % 100 = 0 THEN 'open' ELSE 'resolved' END, '', '', {sql.at_day('f.day', '1200')} "
        "FROM followup f WHERE f.state = 'unreached' AND f.id % 20 = 0 ORDER BY f.id"))
    c.execute(text(
        "INSERT INTO escalationevent (escalation_id, attempt_id, at, actor, kind, text) "
        "SELECT e.id, e.attempt_id, e.created_at, 'system', 'created', e.rule FROM escalation e ORDER BY e.id"))
    c.execute(text(
        "INSERT INTO casetask (escalation_id, kind, due_at, assignee, flow, state, result, created_by, created_at) "
        f"SELECT e.id, 'staff_call', {sql.at(midnight, '60 * 24 * 5 + e.id % 600')}, 'can_bo', '', "
        "CASE WHEN e.status = 'resolved' THEN 'done' ELSE 'pending' END, '', 'quan_tri', e.created_at "
        "FROM escalation e WHERE e.id % 10 = 0 ORDER BY e.id"))


def _hotline(c: Connection, sql: Sql, contacts: int, first_day: dt.date, midnight: dt.datetime) -> None:
    callers = max(contacts // 100, 1)
    at = sql.at(midnight, f"i * {FOLLOW_UP_DAYS * 24 * 60 // callers or 1}")
    c.execute(text(
        "INSERT INTO callattempt (campaign_id, contact_id, phone, flow, direction, channel, day, attempt_number, "
        "state, backend, backend_call_id, caller_id, queued_at, dialled_at, answered_at, ended_at, end_reason) "
        f"SELECT NULL, NULL, '+8497' || {sql.padded('i', 7)}, 'hotline', 'inbound', "
        f"CASE WHEN i % 10 = 0 THEN 'sms' ELSE 'voice' END, "
        f"{sql.day(first_day, f'i * {FOLLOW_UP_DAYS} / ({callers} + 1)')}, 1, 'completed', 'sim', '', '', "
        f"{at}, {at}, {at}, {at}, 'completed' FROM {sql.numbers(callers)}"))
    c.execute(text(
        "INSERT INTO escalation (contact_id, attempt_id, flow, rule, level, reason, notify_cdc, callback, status, "
        "assignee, outcome, created_at) "
        "SELECT NULL, a.id, 'hotline', 'de_nghi_goi_lai', 'callback', 'Người gọi đề nghị CDC gọi lại', 1 = 1, 1 = 1, "
        "CASE WHEN a.id % 35 = 0 THEN 'open' ELSE 'resolved' END, '', '', a.ended_at "
        "FROM callattempt a WHERE a.flow = 'hotline' AND a.id % 7 = 0 ORDER BY a.id"))


def _sms(c: Connection, sql: Sql, messages: int, midnight: dt.datetime) -> dict[str, int]:
    """Broadcast campaigns one after the other by id (their lists loaded in turn), one in 100 messages a
    single message of the transactional campaign among them."""
    if messages <= 0:
        return {}
    c.execute(text("INSERT INTO smscampaign (kind, name, template, strip_accents, source, status, recipients, "
                   "duplicates, invalid, opted_out, created_at) VALUES ('transactional', 'Tin nhắn riêng', '', "
                   "1 = 0, '', 'running', 0, 0, 0, 0, :at)"), {"at": midnight})
    single = int(c.execute(text("SELECT max(id) FROM smscampaign")).scalar() or 0)
    per = messages // SMS_CAMPAIGNS + 1
    for k in range(SMS_CAMPAIGNS):
        status = "running" if k == SMS_CAMPAIGNS - 1 else "finished"
        c.execute(text("INSERT INTO smscampaign (kind, name, template, strip_accents, source, status, recipients, "
                       "duplicates, invalid, opted_out, created_at, loaded_from, loaded_up_to) VALUES ('broadcast', "
                       ":name, 'CDC Hue: Vui long khai bao y te.', 1 = 1, 'f1.csv', :status, :n, 0, 0, 0, :at, "
                       ":low, :high)"),
                  {"name": f"Chiến dịch {k + 1}", "status": status, "n": per, "at": midnight,
                   "low": k * per, "high": min((k + 1) * per, messages)})
    first = int(c.execute(text("SELECT min(id) FROM smscampaign WHERE kind = 'broadcast'")).scalar() or 0)
    state = ("CASE WHEN i % 100 < 80 THEN 'delivered' WHEN i % 100 < 85 THEN 'failed' WHEN i % 100 < 87 "
             "THEN 'expired' WHEN i % 100 < 95 THEN 'accepted' ELSE 'queued' END")
    at = sql.at(midnight, f"i / {max(messages // (FOLLOW_UP_DAYS * 24 * 60), 1)}")
    c.execute(text(
        "INSERT INTO smsmessage (id, campaign_id, phone, carrier, gateway, text, purpose, encoding, segments, state, "
        "attempts, reason, queued_at, submitted_at, accepted_at, done_at) "
        f"SELECT i, CASE WHEN i % 100 = 0 THEN {single} ELSE {first} + (i - 1) / {per} END, "
        f"'+849' || {sql.padded('i', 8)}, CASE i % 3 WHEN 0 THEN 'viettel' WHEN 1 THEN 'vinaphone' ELSE 'mobifone' END, "
        "CASE i % 3 WHEN 0 THEN 'viettel_smpp' ELSE 'vnpt_http' END, NULL, "
        "CASE WHEN i % 100 = 0 THEN 'reply' ELSE '' END, 'GSM-7', 1 + i % 2, "
        f"{state}, 1, '', {at}, {at}, CASE WHEN i % 100 < 80 OR i % 100 >= 87 AND i % 100 < 95 THEN {at} END, "
        f"CASE WHEN i % 100 < 87 THEN {at} END FROM {sql.numbers(messages)}"))
    if sql.dialect == "postgresql":  # ids given: the sequence goes on after them
        c.execute(text("SELECT setval(pg_get_serial_sequence('smsmessage', 'id'), (SELECT max(id) FROM smsmessage))"))
    last = first + SMS_CAMPAIGNS - 1
    return {"sms_campaign": last, "sms_single": single}
