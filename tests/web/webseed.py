"""A small, fixed data set for dashboard tests: two districts, calls with answers, escalations of
every state, and one user per role."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from robocall.accounts import add_user
from robocall.models import (
    Answer,
    CallAttempt,
    CallCampaign,
    CaseTask,
    Contact,
    Escalation,
    EscalationEvent,
    FollowUp,
    FollowUpState,
    utcnow,
)

PASSWORD = "mật khẩu đủ dài"
USERS = {"admin": "quan_tri", "cdc_staff": "can_bo", "viewer": "xem"}
DAY1 = dt.date(2021, 8, 11)
HOTLINE_CALLER = "+84987000111"


def seed(engine: Engine, now: dt.datetime | None = None) -> dict[str, int]:
    """Returns ids the tests refer to."""
    now = now or utcnow()
    ids: dict[str, int] = {}
    for role, name in USERS.items():
        ids[f"user_{role}"] = add_user(engine, name, role, PASSWORD).id or 0
    with DbSession(engine) as db:
        campaign = CallCampaign(name="Theo dõi F1/F2", flow="f1_f2_followup", categories="F1,F2")
        db.add(campaign)
        people = [
            ("+84912000001", "Nguyễn Văn An", "F1", "Thành phố Huế", "Phú Hội", dt.date(2021, 8, 25)),
            ("+84912000002", "Trần Thị Bình", "F1", "Thành phố Huế", "Vĩnh Ninh", dt.date(2021, 8, 25)),
            ("+84912000003", "Lê Văn Cường", "F2", "Huyện Phú Lộc", "Lộc Bổn", dt.date(2021, 8, 18)),
            ("+84912000004", "Phạm Thị Dung", "F1", "Huyện Phú Lộc", "Vinh Hưng", dt.date(2021, 8, 12)),
        ]
        contacts = []
        for phone, name, category, district, commune, end in people:
            contact = Contact(phone=phone, name=name, category=category, district=district, commune=commune,
                              exposure_date=dt.date(2021, 8, 5), monitoring_end=end)
            db.add(contact)
            contacts.append(contact)
        db.flush()
        assert campaign.id is not None
        ids["campaign"] = campaign.id
        for offset in range(3):
            day = DAY1 + dt.timedelta(days=offset)
            for i, contact in enumerate(contacts):
                reached = not (i == 3 and offset >= 1)  # Dung stops answering after the first day
                at = dt.datetime.combine(day, dt.time(2, 0), dt.UTC)
                attempt = CallAttempt(campaign_id=campaign.id, contact_id=contact.id, phone=contact.phone,
                                      flow="f1_f2_followup", day=day, state="completed" if reached else "no_answer",
                                      queued_at=at, dialled_at=at, answered_at=at if reached else None,
                                      ended_at=at + dt.timedelta(minutes=2), end_reason="completed" if reached else "")
                db.add(attempt)
                db.flush()
                if reached:
                    fever = i == 0 and offset == 2
                    db.add(Answer(attempt_id=attempt.id, contact_id=contact.id, question="fever", node="q_sot",
                                  value=fever, keys="1" if fever else "2", recorded_at=at))
                    db.add(Answer(attempt_id=attempt.id, contact_id=contact.id, question="temperature", node="q_nhiet",
                                  value=38.6 if fever else 36.6, keys="386#", recorded_at=at))
                db.add(FollowUp(campaign_id=campaign.id, contact_id=contact.id or 0, day=day,
                                state=FollowUpState.REACHED if reached else FollowUpState.UNREACHED, attempts=1,
                                unreachable_streak=0 if reached else offset))
                ids[f"attempt_{i}_{offset}"] = attempt.id or 0
        db.flush()
        cases = [
            # key, contact, level, rule, status, minutes ago, attempt
            ("urgent_old", 0, "urgent", "trieu_chung_nang", "open", 45, ids["attempt_0_2"]),
            ("urgent_new", 1, "urgent", "trieu_chung_nang", "open", 5, ids["attempt_1_2"]),
            ("watch", 2, "watch", "co_trieu_chung", "acknowledged", 300, ids["attempt_2_1"]),
            ("callback_done", 2, "callback", "de_nghi_goi_lai", "resolved", 2000, ids["attempt_2_0"]),
            ("home_visit", 3, "home_visit", "unreachable_2_days", "open", 100, None),
        ]
        for key, who, level, rule, status, ago, attempt_id in cases:
            created = now - dt.timedelta(minutes=ago)
            escalation = Escalation(contact_id=contacts[who].id, attempt_id=attempt_id, flow="f1_f2_followup",
                                    rule=rule, level=level, reason=f"Lý do: {rule.replace('_', ' ')}", status=status, created_at=created,
                                    acknowledged_at=created if status != "open" else None,
                                    resolved_at=created if status == "resolved" else None)
            db.add(escalation)
            db.flush()
            db.add(EscalationEvent(escalation_id=escalation.id or 0, attempt_id=attempt_id, at=created,
                                   kind="created", text=rule))
            ids[key] = escalation.id or 0
        for i, contact in enumerate(contacts):
            ids[f"contact_{i}"] = contact.id or 0
        # A hotline caller on no list asks to be called back: the case has only the calling number.
        called = now - dt.timedelta(minutes=20)
        hotline = CallAttempt(phone=HOTLINE_CALLER, flow="hotline", direction="inbound", day=DAY1 + dt.timedelta(days=2),
                              state="completed", queued_at=called, dialled_at=called, answered_at=called,
                              ended_at=called + dt.timedelta(minutes=3), end_reason="completed")
        db.add(hotline)
        db.flush()
        for question, value in (("menu_choice", "callback"), ("fever", False)):
            db.add(Answer(attempt_id=hotline.id or 0, question=question, node=f"q_{question}", value=value, keys="1",
                          recorded_at=called))
        case = Escalation(attempt_id=hotline.id, flow="hotline", rule="de_nghi_goi_lai", level="callback",
                          reason="Người gọi đề nghị CDC gọi lại", created_at=called)
        db.add(case)
        db.flush()
        db.add(EscalationEvent(escalation_id=case.id or 0, attempt_id=hotline.id, at=called, kind="created",
                               text="hotline: de_nghi_goi_lai"))
        ids["hotline_case"], ids["hotline_attempt"] = case.id or 0, hotline.id or 0
        task = CaseTask(escalation_id=ids["urgent_old"], kind="staff_call", due_at=now + dt.timedelta(hours=1),
                        assignee=USERS["cdc_staff"], created_by=USERS["admin"])
        later = CaseTask(escalation_id=ids["urgent_old"], kind="staff_call", due_at=now + dt.timedelta(hours=3),
                         assignee=USERS["admin"], created_by=USERS["admin"])
        db.add_all([task, later])
        db.flush()
        ids["task"], ids["task_2"] = task.id or 0, later.id or 0
        db.commit()
    ids.update(seed_sms(engine))
    return ids


# One SMS campaign, two carriers, messages in every state:
# carrier: {state: count}.  Delivery rate = delivered / all: viettel 5/10, vinaphone 2/6.
SMS_FIGURES = {
    "viettel": {"queued": 1, "submitted": 1, "accepted": 2, "delivered": 5, "failed": 1, "expired": 0},
    "vinaphone": {"queued": 0, "submitted": 0, "accepted": 1, "delivered": 2, "failed": 2, "expired": 1},
}
SMS_INVALID = 3


def seed_sms(engine: Engine) -> dict[str, int]:
    from robocall.sms_models import (
        MessageState,
        SmsCampaign,
        SmsInvalidRecipient,
        SmsMessage,
    )

    at = dt.datetime.combine(DAY1, dt.time(1, 0), dt.UTC)
    with DbSession(engine) as db:
        campaign = SmsCampaign(name="Nhắc khai báo y tế", template="CDC Hue: Vui long khai bao y te.",
                               source="f1.csv", status="running", recipients=16, invalid=SMS_INVALID,
                               duplicates=1, created_at=at)
        db.add(campaign)
        db.flush()
        assert campaign.id is not None
        n = 0
        for carrier, states in SMS_FIGURES.items():
            for state, count in states.items():
                for _ in range(count):
                    n += 1
                    taken = state in (MessageState.ACCEPTED, MessageState.DELIVERED)
                    db.add(SmsMessage(campaign_id=campaign.id, phone=f"+849860000{n:02d}", carrier=carrier,
                                      gateway=f"{carrier}_http", encoding="GSM-7", segments=1, state=state,
                                      attempts=0 if state == MessageState.QUEUED else 1, queued_at=at,
                                      accepted_at=at if taken else None))
        for row in range(SMS_INVALID):
            db.add(SmsInvalidRecipient(campaign_id=campaign.id, row=row + 2, value="12345", reason="invalid_phone"))
        db.commit()
        return {"sms_campaign": campaign.id}
