"""A flow the code has never seen names its own answers, values and levels, and those names are what
staff read on the case page, the person's page and the queue, in both languages."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlmodel import Session as DbSession
from test_identifiers import identifiers_in, visible_text
from webhelp import ROOT, pages_in_both_languages

from robocall.config import reset_settings
from robocall.models import Answer, CallAttempt, Escalation, EscalationEvent

NEW_FLOW = """
name: kiem_tra_cach_ly
title: Kiểm tra cách ly tại nhà
languages: [vi]
start: khau_trang
defaults: {give_up: tam_biet}
nodes:
  khau_trang:
    say: {vi: "Quý vị có đeo khẩu trang khi tiếp xúc người khác không? Luôn luôn bấm 1, thỉnh thoảng bấm 2."}
    keys:
      1: {value: always, label: {vi: Luôn luôn, en: Always}}
      2: {value: sometimes, label: {vi: Thỉnh thoảng, en: Sometimes}}
    save: mask_worn
    label: {vi: Đeo khẩu trang, en: Wears a mask}
    next: tam_biet
  tam_biet: {say: {vi: Cảm ơn quý vị.}, hangup: true}
levels:
  isolation_breach: {vi: Vi phạm cách ly, en: Isolation breach}
escalations:
  - level: isolation_breach
    reason: {vi: Không đeo khẩu trang thường xuyên}
    when: mask_worn == "sometimes"
"""


def test_a_new_flows_names_reach_the_case_page(make_app, seeded, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, ids = seeded
    for path in (ROOT / "ivr_flows").glob("*.yaml"):
        shutil.copy(path, tmp_path)
    (tmp_path / "kiem_tra_cach_ly.yaml").write_text(NEW_FLOW, encoding="utf-8")
    monkeypatch.setenv("FLOWS_DIR", str(tmp_path))
    reset_settings()
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with DbSession(engine) as db:
        attempt = CallAttempt(contact_id=ids["contact_2"], phone="+84912000777", flow="kiem_tra_cach_ly",
                              day=at.date(), state="completed", queued_at=at, answered_at=at, ended_at=at,
                              end_reason="completed")
        db.add(attempt)
        db.flush()
        db.add(Answer(attempt_id=attempt.id or 0, contact_id=ids["contact_2"], question="mask_worn",
                      node="khau_trang", value="sometimes", keys="2", recorded_at=at))
        case = Escalation(contact_id=ids["contact_2"], attempt_id=attempt.id, flow="kiem_tra_cach_ly",
                          rule="isolation_breach_1", level="isolation_breach",
                          reason="Không đeo khẩu trang thường xuyên", created_at=at)
        db.add(case)
        db.flush()
        db.add(EscalationEvent(escalation_id=case.id or 0, attempt_id=attempt.id, at=at, kind="created",
                               text="kiem_tra_cach_ly: isolation_breach_1"))
        db.commit()
        case_id = case.id

    # The queue filtered on the new level, then the audit log that records that filter.
    paths = [f"/escalations/{case_id}", f"/contacts/{ids['contact_2']}", "/escalations?level=isolation_breach", "/audit"]

    pages = {key: visible_text(html) for key, html in pages_in_both_languages(make_app(), "admin", paths).items()}
    case_vi, case_en = pages[("vi", paths[0])], pages[("en", paths[0])]
    assert "Vi phạm cách ly" in case_vi and "Isolation breach" in case_en
    for lang, answer, value in (("vi", "Đeo khẩu trang", "Thỉnh thoảng"), ("en", "Wears a mask", "Sometimes")):
        assert f"{answer}: {value}" in " ".join(pages[(lang, paths[1])].split()), lang
    assert "Vi phạm cách ly" in pages[("vi", paths[2])] and "Isolation breach" in pages[("en", paths[2])]
    assert "Mức: Vi phạm cách ly" in pages[("vi", paths[3])] and "Level: Isolation breach" in pages[("en", paths[3])]
    shown = {f"{lang} {path}": found for (lang, path), text in pages.items() if (found := identifiers_in(text, lang))}
    assert shown == {}
