"""Lead times and workload in a real browser: the demo team lead reads the lead times and downloads their CSV,
sees the workload and rebalances one demo case through the case manager change flow; each page axe-clean at
desktop and 375 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in
from tests.webapp.manage_support import downloaded_rows as download

pytestmark = pytest.mark.browser




def test_a_team_lead_reads_lead_times_and_workload_and_rebalances_a_case(visit: Visit) -> None:
    page = sign_in(visit, "esihenkilo.maria")
    page.goto("/manage")
    page.locator("#manage-subnav a[href^='/manage/flow']").click()
    expect(page.locator("#flow-leadtimes tbody tr")).to_have_count(6)
    expect(page.locator("#flow-weekly-table")).to_be_attached()
    expect(page.locator("#flow-weekly svg[role='img'] title")).to_have_count(1)
    check_accessibility(page, "manage-flow")
    docs_screenshot(page, "manage-flow")
    rows = download(page, "#leadtimes-csv")
    assert rows[0] == ["stretch", "cases", "median_days", "p90_days"]
    assert [r[0] for r in rows[1:]] == ["referral_to_decision", "decision_to_plan", "plan_to_service",
                                        "referral_to_closure", "decision_to_case_manager", "without_case_manager"]
    assert int(rows[1][1]) > 0  # the demo has decided cases
    weekly = download(page, "#flow-weekly-csv")
    assert weekly[0] == ["week", "monday", "opened", "closed"]

    page.locator("#manage-subnav a[href^='/manage/workload']").click()
    people = page.locator("#workload-people tbody tr")
    expect(people.first).to_be_visible()
    check_accessibility(page, "manage-workload")

    # the case manager with the most cases: choose one of their cases not already under change and start it
    page.locator("#choose-manager button[type=submit]").click()
    boxes = page.locator("#rebalance-case-list input[type=checkbox]:not([disabled])")
    expect(boxes.first).to_be_visible()
    check_accessibility(page, "manage-workload-cases")
    chosen = boxes.last.get_attribute("value")
    boxes.last.check()
    page.locator("label[for='rebalance-reason-workload']").click()
    page.locator("#rebalance-note").fill("Tasataan työmäärää")
    page.locator("#rebalance-submit").click()
    results = page.locator("#rebalance-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(chosen or "?")
    expect(page.locator("#rebalance-results li.polku-result--ok")).to_have_count(1)
    check_accessibility(page, "manage-workload-rebalanced")
    # the case page now says the change is under way
    page.goto(f"/cases/{chosen}")
    expect(page.locator("#actions")).to_be_visible()
