"""Contact search as staff type it, in headless Chromium at a laptop and a phone width: a name
without its accents, and a number with its leading 0 and spaces.  Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import pytest
from sqlmodel import Session as DbSession
from test_browser import WIDTHS, _login, _shoot, browser, server  # noqa: F401  (fixtures)

from robocall.models import Contact


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_staff_find_people_by_an_unaccented_name_and_a_number_typed_with_a_leading_zero(
        server: str, browser, seeded, width_name: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, _ = seeded
    with DbSession(engine) as db:
        db.add(Contact(phone="+84913000123", name="Trần Minh Đức", district="Thành phố Huế"))
        db.commit()
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    _login(page, server, "viewer")

    def search(q: str) -> str:
        page.goto(f"{server}/contacts")
        page.fill("input[name=q]", q)
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state()
        return page.inner_text("main")

    by_name = search("tran minh duc")
    assert "Trần Minh Đức" in by_name and "Nguyễn Văn An" not in by_name
    _shoot(page, f"search-unaccented-name-{width_name}")
    by_number = search("0913 000 123")
    assert "Trần Minh Đức" in by_number and "+849******23" in by_number
    assert "0913000123" not in page.content() and "913000123" not in page.content()  # the number stays masked
    _shoot(page, f"search-number-leading-zero-{width_name}")
    assert "Trần Minh Đức" not in search("0913 000 12")  # a part of a number finds no one
    page.close()
