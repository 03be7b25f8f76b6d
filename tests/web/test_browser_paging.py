"""In Chromium: a 5,000-row line list filtered by district and category, walked to its page 3 by the
"next" links; the page shows rows 41-60 of the filtered list in order, says "Trang 3", and the filters
(and the language) survive the paging.  At a laptop and a phone width, screenshots beside the others."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert
from sqlmodel import Session as DbSession
from sqlmodel import col, select
from test_browser import WIDTHS, _login, _shoot, browser, server  # noqa: F401  (fixtures)

from robocall.models import Contact, contact_search_keys
from robocall.web.line_lists import PAGE_SIZE

DISTRICTS = ("Huyện Phú Lộc", "Huyện Phú Vang", "Thị xã Hương Thủy", "Thành phố Huế")
FILTERS = {"district": "Huyện Phú Vang", "category": "F1"}


def _seed_5000(engine) -> list[str]:  # type: ignore[no-untyped-def]
    """5,000 people under monitoring in one insert; the names of the filtered list in the list's order."""
    rows = [contact_search_keys({
        "phone": f"+8492{i:07d}", "name": f"Người thứ {i:04d}", "category": ("F1", "F2", "F2")[i % 3],
        "district": DISTRICTS[i % 4], "commune": f"Xã {i % 7}", "exposure_date": dt.date(2021, 8, 5),
        "monitoring_end": dt.date(2021, 8, 30)}) for i in range(5000)]
    with engine.begin() as connection:
        connection.execute(insert(Contact.__table__), rows)  # type: ignore[attr-defined]
    with DbSession(engine) as db:
        return list(db.exec(select(Contact.name).where(
            Contact.district == FILTERS["district"], Contact.category == FILTERS["category"],
            col(Contact.monitoring_end) >= dt.date(2021, 8, 13))
            .order_by(Contact.district, Contact.commune, Contact.name, Contact.id)).all())


@pytest.mark.timeout(300)
def test_page_3_of_a_5000_row_list_shows_its_rows_in_order_with_the_filters_kept(
        server: str, browser, seeded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    engine, _ = seeded
    expected = _seed_5000(engine)
    assert 3 * PAGE_SIZE < len(expected) < 1000  # (a count under 1.000 reads the same in any locale)
    # The walk once, at a laptop's width: the list, the filters, "Trang sau" twice, "Trang trước" once.
    page = browser.new_page(viewport=dict(zip(("width", "height"), WIDTHS["laptop"], strict=True)))
    _login(page, server, "viewer")
    page.goto(f"{server}/lists/monitoring?as_of=2021-08-13")
    assert "/ 5.00" in page.inner_text("#row-count")
    page.select_option("select[name=district]", FILTERS["district"])
    page.select_option("select[name=category]", FILTERS["category"])
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#page-number")
    for number in (2, 3):
        page.click("#page-next")
        page.locator("#page-number", has_text=f"Trang {number}").wait_for()
    page_3 = page.url
    _check_page_3(page, expected, "laptop")
    page.click("#page-prev")
    page.locator("#page-number", has_text="Trang 2").wait_for()
    assert _names(page) == expected[PAGE_SIZE:2 * PAGE_SIZE]
    page.close()
    # The same page 3 (its address: filters and cursor) on a phone.
    phone = browser.new_page(viewport=dict(zip(("width", "height"), WIDTHS["phone"], strict=True)))
    _login(phone, server, "viewer")
    phone.goto(page_3)
    _check_page_3(phone, expected, "phone")
    phone.close()


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [cell.inner_text().strip() for cell in page.locator("table.cards tbody td.wide a").all()]


def _check_page_3(page, expected: list[str], width_name: str) -> None:  # type: ignore[no-untyped-def]
    assert page.inner_text("#page-number") == "Trang 3"
    assert _names(page) == expected[2 * PAGE_SIZE:3 * PAGE_SIZE]  # rows 41-60, in order
    assert page.inner_text("#row-count").startswith(f"Hàng {2 * PAGE_SIZE + 1}–{3 * PAGE_SIZE} / {len(expected)}")
    assert page.locator("select[name=district]").input_value() == FILTERS["district"]
    assert page.locator("select[name=category]").input_value() == FILTERS["category"]
    assert "category=F1" in page.url and "as_of=2021-08-13" in page.url
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page 3 is {overflow}px wider than the {width_name} screen"
    _shoot(page, f"list-page-3-{width_name}")
