"""The case page and case search in a real browser, on a demo case: the case manager and the plan on the page,
a note added (first refused empty, with the message at the top and next to the field), axe-clean at desktop and
375 px. The case is DEMO-021 (Kuvitteellinen Jokinen, waiting for the follow-up; Pekka Esimerkki manages it).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in

pytestmark = pytest.mark.browser

CASE = "DEMO-021"
CLIENT = "Kuvitteellinen Jokinen"
MANAGER = "Pekka Esimerkki"


def test_the_case_page_shows_the_case_manager_and_the_timeline_and_takes_a_note(visit: Visit) -> None:
    page = sign_in(visit, "sosiaalityo.pekka")
    page.goto("/cases")
    page.locator("#case-search-q").fill(CASE)
    page.locator("#case-search-button").click()
    expect(page.locator("#case-results-table")).to_contain_text(CLIENT)
    check_accessibility(page, "case-search")
    page.get_by_role("link", name=CASE, exact=True).click()

    expect(page.locator("h1")).to_have_text(CLIENT)
    expect(page.locator("#case-manager-name")).to_have_text(MANAGER)
    expect(page.locator("#case-manager-since")).not_to_be_empty()
    expect(page.locator("#case-client-told")).not_to_be_empty()
    expect(page.locator("#timeline-list li").first).to_be_visible()
    if page.locator("#plan").count():  # the plan part (webapp.cases.sections), when it is there
        expect(page.locator("#plan")).to_be_visible()
        expect(page.locator("#case-sections-nav a[href='#case-part-plan']")).to_have_count(1)
    docs_screenshot(page, "case-page")
    check_accessibility(page, "case-page")

    page.locator("#note-add").click()  # nothing written: refused, said at the top and next to the field
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#note-text-error")).to_be_visible()
    check_accessibility(page, "case-page-note-error")

    note = "Soitettu asiakkaalle, seuraava tapaaminen sovittu."
    page.locator("#note-text").fill(note)
    page.locator("label[for='note-visibility-network']").click()
    expect(page.locator("#note-visibility-network")).to_be_checked()
    page.locator("#note-add").click()
    expect(page.locator("#note-list")).to_contain_text(note)
    expect(page.locator("#note-list")).to_contain_text(MANAGER)
    expect(page.locator("#timeline-list")).to_contain_text(note)
    assert page.url.endswith(f"/cases/{CASE}#notes")
