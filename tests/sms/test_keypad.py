"""What people type by SMS reads as the keys the flow's question takes (the engine judges)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from robocall.conversations.sms_declaration import NOT_AN_ANSWER, read_reply
from robocall.flows.engine import (
    Answered,
    Digits,
    Session,
    advance,
    contact_fields,
    new_session,
)
from robocall.flows.loader import Flow, load_flow

FLOWS = Path(__file__).parents[2] / "ivr_flows"
TODAY = dt.date(2021, 8, 15)


def at(flow: Flow, *keys: str) -> Session:
    session, _ = advance(flow, new_session(flow, contact_fields(today=TODAY, name="An")), Answered())
    for key in keys:
        session, _ = advance(flow, session, Digits(key))
    return session


@pytest.fixture(scope="module")
def hotline() -> Flow:
    return load_flow(FLOWS / "hotline.yaml")


@pytest.mark.parametrize(("text", "keys"), [
    ("1", "1"), (" 2. ", "2"), ("1#", "1"), ("Có", "1"), ("co a", "1"), ("Đúng", "1"), ("YES", "1"),
    ("Không ạ", "2"), ("ko", "2"), ("no", "2"), ("chưa", "2"), ("5", "5"), ("hello", NOT_AN_ANSWER), ("", NOT_AN_ANSWER),
])
def test_yes_no_questions(hotline: Flow, text: str, keys: str) -> None:
    assert read_reply(hotline, at(hotline, "1"), text) == keys  # the fever question


@pytest.mark.parametrize(("text", "keys"), [
    ("375", "375"), ("375#", "375"), ("37.5", "375"), ("37,5 độ", "375"), ("38", "380"), ("40", "400"),
    ("37.55", "376"), ("Nhiệt độ 38,2", "382"), ("30", "30"), ("abc", NOT_AN_ANSWER),
])
def test_temperatures(hotline: Flow, text: str, keys: str) -> None:
    session = at(hotline, "1", "2", "2", "2", "2", "2")
    assert session.node == "nhiet_do"
    assert read_reply(hotline, session, text) == keys


@pytest.mark.parametrize(("text", "keys"), [
    ("0508", "0508"), ("5/8", "0508"), ("05-08-2021", "05082021"), ("5/8/21", "05082021"),
    ("ngày 5 tháng 8", "0508"), ("hôm qua", NOT_AN_ANSWER),
])
def test_dates(text: str, keys: str) -> None:
    returnee = load_flow(FLOWS / "returnee_check.yaml")
    session = at(returnee, "1", "1")
    assert session.node == "ngay_ve"
    assert read_reply(returnee, session, text) == keys
