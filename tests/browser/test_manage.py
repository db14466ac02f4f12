"""The management view in a real browser: the demo team lead sees the alarms and where cases wait, opens a
step's list and downloads CSVs; every page axe-clean at desktop and 375 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in
from tests.webapp.manage_support import downloaded_rows as download

pytestmark = pytest.mark.browser




def test_a_team_lead_sees_alarms_and_steps_opens_a_list_and_downloads_csv(visit: Visit) -> None:
    page = sign_in(visit, "esihenkilo.maria")
    page.locator("nav a[href='/manage']").click()
    expect(page).to_have_url(f"{visit.server.url}/manage")
    alarms = page.locator("#manage-alarms > li")
    expect(alarms).to_have_count(7)
    expect(page.locator("#alarm-no_case_manager")).to_be_visible()
    expect(page.locator("#manage-subnav a[aria-current='page']")).to_have_attribute("href", "/manage")
    expect(page.locator("#figures-at")).to_be_visible()
    expect(page.locator("#period-note")).to_be_visible()
    steps = page.locator("#manage-steps tbody tr")
    expect(steps.first).to_be_visible()
    table_rows = steps.count()
    check_accessibility(page, "manage")
    docs_screenshot(page, "manage")

    rows = download(page, "#steps-csv")
    assert rows[0] == ["process", "version", "element_id", "step", "kind", "waiting", "cases", "age_p50_hours",
                       "age_p90_hours", "age_max_hours", "overdue", "period_from", "period_to", "period_completed",
                       "period_median_hours", "period_p90_hours"]
    assert len(rows) - 1 == table_rows
    waiting = {(r[0], r[2]): int(r[5]) for r in rows[1:]}
    assert waiting and max(waiting.values()) > 0

    # the period filter: a wrong date is named, linked and kept
    page.select_option("#filter-period", "dates")
    page.fill("#filter-to", "2020-01-01")
    page.fill("#filter-from", "2020-02-01")
    page.locator("#manage-filters button[type=submit]").click()
    expect(page.locator("#error-summary a[href='#filter-to']")).to_be_visible()
    expect(page.locator("#filter-from")).to_have_value("2020-02-01")
    check_accessibility(page, "manage-period-error")
    page.goto("/manage")

    # the step with the most cases is listed first; its list has as many cases as the table said
    first = steps.first.locator("th a")
    href = first.get_attribute("href") or ""
    process_key, element_id = href.split("?")[0].split("/")[-2:]
    first.click()
    expect(page.locator("h1")).to_be_visible()
    listed = page.locator("#step-cases tbody tr")
    expect(listed).to_have_count(waiting[(process_key, element_id)])
    check_accessibility(page, "manage-step")
    numbers = [t.strip() for t in page.locator("#step-cases tbody tr td:first-child a").all_inner_texts()]
    cases = download(page, "#list-csv")
    assert cases[0] == ["case_number", "kind", "since", "due", "overdue", "age_hours"]
    assert [r[0] for r in cases[1:]] == numbers
    # a case number links to its case page
    assert page.locator("#step-cases tbody tr td:first-child a").first.get_attribute("href") == f"/cases/{numbers[0]}"

    # an alarm's list from its card
    page.goto("/manage")
    page.locator("#alarm-idle h3 a").click()
    expect(page).to_have_url(f"{visit.server.url}/manage/alarms/idle?team=mine")
    expect(page.locator("#list-heading")).to_be_visible()
    check_accessibility(page, "manage-alarm")
