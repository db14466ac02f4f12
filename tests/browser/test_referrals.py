"""A staff referral that becomes a case in the coordinators' inbox, and a self-referral with its receipt.

Each test uses its own fictitious identity code (the 900-999 series; the demo's clients use the low nineties).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect

from casework.identity_code import fictitious_code
from tests.browser.support import Visit, check_accessibility, sign_in
from tests.browser.test_inbox_flow import MAPPING, wait_for_row

pytestmark = pytest.mark.browser


def tick(page: Any, selector: str) -> None:
    """Tick a radio button or a checkbox as a person does: by its label (HDS draws the box over the input)."""
    box = page.locator(selector)
    page.locator(f"label[for='{box.get_attribute('id')}']").click()
    expect(box).to_be_checked()


def test_a_staff_referral_becomes_a_case_in_the_coordinators_inbox(visit: Visit) -> None:
    page = sign_in(visit, "koordinaattori.anna")
    page.locator("nav a[href='/referrals/new']").click()
    expect(page).to_have_url(re.compile(r"/referrals/new$"))
    check_accessibility(page, "referral-new")

    page.locator("#client_name").fill("Kuvitteellinen Selainlähete")
    page.locator("#identity_code").fill(fictitious_code(date(1985, 6, 15), 991)[:-1] + "X")  # mistyped
    page.locator("#municipality").fill("Esimerkkilä")
    page.locator("#reason").fill("Pitkä työttömyys ja terveysongelmat")
    page.locator("button[type=submit]").last.click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("a[href='#identity_code']")).to_be_visible()
    expect(page.locator("#identity_code-error")).to_be_visible()
    expect(page.locator("#client_name")).to_have_value("Kuvitteellinen Selainlähete")  # kept
    check_accessibility(page, "referral-new-errors")

    summary.locator("a[href='#identity_code']").click()
    expect(page.locator("#identity_code")).to_be_focused()
    page.locator("#identity_code").fill(fictitious_code(date(1985, 6, 15), 991))
    page.locator("#phone").fill("050 000 0991")
    page.locator("#source").select_option("health_station")
    page.locator("#referrer_organisation").fill("Terveysasema Esimerkkilä")
    page.locator("#referrer_contact").fill("Keksitty Terveydenhoitaja, 040 000 0000")
    tick(page, "input[name=existing_services][value=health_care]")
    tick(page, "input[name=labour_market_status][value=job_seeker]")
    page.locator("#unemployed_months").fill("18")
    tick(page, "input[name=urgency][value=urgent]")
    tick(page, "#consent")
    page.locator("button[type=submit]").last.click()

    expect(page).to_have_url(re.compile(r"/referrals/sent/OHJ-\d{4}-[A-Z2-9]{6}$"))
    key = page.locator("#case-number").inner_text()
    assert key in page.url and "Selainl" not in page.url
    check_accessibility(page, "referral-sent")
    page.locator("main a[href='/inbox?tab=groups']").click()
    row = wait_for_row(page, "/inbox?tab=groups", MAPPING, key)
    expect(row).to_be_visible()


def test_a_self_referral_and_its_receipt(visit: Visit) -> None:
    page = visit.page()
    page.goto("/referral")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    check_accessibility(page, "self-referral")
    page.locator("#polku-lang").select_option("sv")
    page.locator(".polku-language button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/referral$"))
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator("#language-sv")).to_be_checked()  # the language of service follows the page's

    page.locator("#client_name").fill("Itse Selainhakija")
    page.locator("#identity_code").fill(fictitious_code(date(1992, 2, 2), 992))
    page.locator("button[type=submit]").last.click()
    expect(page.locator("#error-summary")).to_be_visible()
    for field in ("phone", "municipality", "reason", "consent"):
        expect(page.locator(f"#error-summary a[href='#{field}']")).to_be_visible()
    expect(page.locator("#client_name")).to_have_value("Itse Selainhakija")
    check_accessibility(page, "self-referral-errors")

    page.locator("#email").fill("itse.selainhakija@example.invalid")
    page.locator("#municipality").fill("Esimerkkilä")
    page.locator("#reason").fill("Haluan apua työnhakuun ja jaksamiseen")
    tick(page, "#consent")
    page.wait_for_timeout(3500)  # a person takes a few seconds: a form sent sooner is taken for a machine's
    page.locator("button[type=submit]").last.click()

    expect(page).to_have_url(re.compile(r"/referral/received$"))
    main = page.locator("main")
    expect(main.locator("h1")).to_be_visible()
    assert "Selainhakija" not in main.inner_text() and "OHJ-" not in main.inner_text()
    check_accessibility(page, "self-referral-received")
