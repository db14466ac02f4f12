"""The heatmap of where cases wait, in a real browser: the demo team lead sees the main process drawn with the
steps where cases wait coloured and numbered, switches the colouring to age, and clicks a step into its list;
axe-clean at desktop and 375 px, no CSP violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in

pytestmark = pytest.mark.browser


def marker(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){name}(\s|$)")


def test_a_team_lead_sees_the_heatmap_and_clicks_a_step_into_its_list(visit: Visit) -> None:
    page = sign_in(visit, "esihenkilo.maria")
    page.goto("/manage/heatmap")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#heatmap-viewer .djs-container > svg")).to_have_count(1)
    rows = page.locator("#heatmap-steps tbody tr")
    expect(rows.first).to_be_visible()
    # the step with the most cases waiting (the table's first row) is coloured and carries its number
    top = rows.first
    element_id = top.get_attribute("data-element") or ""
    waiting = top.locator("td").first.inner_text().strip()
    shape = page.locator(f'#heatmap-viewer g.djs-element[data-element-id="{element_id}"]')
    expect(shape).to_have_class(marker("polku-heat"))
    expect(shape).to_have_class(marker("polku-heat--4"))  # the largest value: the top level
    badge = page.locator(f'#heatmap-viewer .djs-overlays[data-container-id="{element_id}"] a.polku-heat-badge')
    expect(badge).to_have_text(waiting)
    expect(page.locator("#heatmap-viewer g.djs-element.polku-heat")).to_have_count(rows.count())
    expect(page.locator('.polku-heatmap__legend[data-measure="waiting"]')).to_be_visible()
    expect(page.locator('.polku-heatmap__legend[data-measure="age"]')).to_be_hidden()
    check_accessibility(page, "manage-heatmap")
    docs_screenshot(page, "manage-heatmap")

    # coloured by age instead: the badge says the age, the legend changes, the URL remembers it
    page.locator("label[for='heatmap-measure-age']").click()
    age = top.locator("td").nth(1).inner_text().strip()
    expect(badge).to_have_text(age)
    expect(page.locator('.polku-heatmap__legend[data-measure="age"]')).to_be_visible()
    expect(page).to_have_url(re.compile(r"measure=age"))
    expect(page.locator("#filter-measure")).to_have_value("age")  # choosing another team keeps it

    # clicking the step on the diagram opens its list, with as many cases as the table said
    list_url = top.locator("th a").get_attribute("href") or ""
    shape.click()
    page.wait_for_url(f"**{list_url}")
    expect(page.locator("#step-cases tbody tr")).to_have_count(int(waiting))
