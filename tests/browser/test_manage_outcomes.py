"""The outcomes page in a real browser: the demo team lead opens it from the managers' sub-navigation, changes the
period, downloads a table as CSV; axe-clean at desktop and 375 px. The demo has few closed cases, so most figures
show "< 5" (tests/webapp/test_manage_outcomes.py checks the figures themselves)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in
from tests.webapp.manage_support import downloaded_rows as download

pytestmark = pytest.mark.browser




def test_the_team_lead_reads_the_outcomes(visit: Visit) -> None:
    page = sign_in(visit, "esihenkilo.maria")
    page.goto("/manage")
    page.locator("#manage-subnav a[href^='/manage/outcomes']").click()
    expect(page).to_have_url(f"{visit.server.url}/manage/outcomes")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#outcomes-case-manager > li")).to_have_count(3)
    expect(page.locator("#outcomes-ratings tbody tr")).to_have_count(4)
    expect(page.locator("#outcomes-destinations-table tbody tr")).to_have_count(10)
    expect(page.locator("#manage-subnav a[aria-current='page']")).to_have_attribute("href", "/manage/outcomes")
    check_accessibility(page, "manage-outcomes")
    docs_screenshot(page, "manage-outcomes")

    rows = download(page, "#outcomes-destinations-csv")
    assert rows[0] == ["period_from", "period_to", "destination", "cases", "percent"]
    assert len(rows) == 11
    # every count is zero, a number of at least five, or "< 5" (never 1 to 4)
    assert all(r[3] in ("< 5", "hidden") or int(r[3]) == 0 or int(r[3]) >= 5 for r in rows[1:])

    # the filters keep the choice; the page stays whole
    page.locator("#filter-period").select_option("90")
    page.locator("#manage-filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/manage/outcomes\?.*\bperiod=90\b"))
    expect(page.locator("#filter-period")).to_have_value("90")
    expect(page.locator("#outcomes-period")).to_be_visible()
