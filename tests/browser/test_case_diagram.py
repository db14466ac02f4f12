"""The case page's diagram in a real browser: bpmn-js draws the case's process with the current step marked, the
path taken and the timers; a called service coordination opens its own diagram. Axe-clean at desktop and 375 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.support import Visit, check_accessibility, sign_in

pytestmark = pytest.mark.browser

MANAGER = "koordinaattori.anna"
CASE = "DEMO-015"  # Koe Kinnunen: plan made, services referred, Anna the case manager (polku/demo.py)


def element(page: Page, element_id: str) -> Locator:
    return page.locator(f'#diagram-viewer g.djs-element[data-element-id="{element_id}"]')


def marker(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){name}(\s|$)")


def test_the_case_page_draws_where_the_case_is(visit: Visit) -> None:
    page = sign_in(visit, MANAGER)
    page.goto(f"/cases/{CASE}")
    expect(page.locator("#diagram h2")).to_be_visible()
    expect(page.locator("#diagram-viewer .djs-container > svg")).to_have_count(1)
    for active in ("coordinate_services", "review_wait"):
        expect(element(page, active)).to_have_class(marker("polku-active"))
    expect(element(page, "make_plan")).to_have_class(marker("polku-done"))
    expect(element(page, "make_plan")).not_to_have_class(marker("polku-active"))
    expect(element(page, "flow_to_coordination")).to_have_class(marker("polku-flow-taken"))
    expect(page.locator(".polku-diagram__badge--active").first).to_be_visible()
    expect(page.locator(".polku-diagram__badge--timer")).not_to_have_count(0)
    expect(page.locator(".polku-diagram__legend")).to_be_visible()
    expect(page.locator("#diagram-text .polku-diagram__timers li")).not_to_have_count(0)
    check_accessibility(page, "case-diagram")

    links = page.locator(".polku-diagram__called-links a")
    expect(links).not_to_have_count(0)
    links.first.click()
    page.wait_for_url(f"**/cases/{CASE}?diagram=*")
    expect(page.locator(".polku-diagram__called a")).to_be_visible()  # back to the case's own process
    expect(element(page, "service_requested")).to_have_class(marker("polku-done"))
    expect(page.locator("#diagram-viewer g.djs-element.polku-active")).not_to_have_count(0)
    check_accessibility(page, "case-diagram-called")
