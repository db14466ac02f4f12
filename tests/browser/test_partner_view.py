"""The network partners' view as the health station's nurse uses it, on the demo data: her referrals, one answered
in two steps, a note for the case manager, and a case page she may not open.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in
from tests.browser.test_inbox_flow import choose

pytestmark = pytest.mark.browser

PARTNER = "kumppani.terveysasema"


def waiting_referral(page: Any) -> Any:
    """The link of the first referral still waiting for the partner's answer."""
    row = page.locator("#open-referrals tbody tr").filter(
        has=page.locator(".polku-partner-status--requested")).first
    expect(row).to_be_visible()
    return row.locator("a").first


def test_the_partner_answers_a_referral_adds_a_note_and_cannot_open_the_case(visit: Visit) -> None:
    page = sign_in(visit, PARTNER)
    expect(page).to_have_url(re.compile(r"/partner$"))
    expect(page.locator("nav a[aria-current=page]")).to_have_attribute("href", "/partner")
    check_accessibility(page, "partner-list")

    link = waiting_referral(page)
    client = link.inner_text()
    link.click()
    expect(page).to_have_url(re.compile(r"/partner/referrals/[0-9a-f-]{36}$"))
    expect(page.locator("#client-contact")).to_contain_text(client)
    expect(page.locator("#referral-status")).to_have_class(re.compile("polku-partner-status--requested"))
    check_accessibility(page, "partner-referral")

    page.locator("#answer-form button[type=submit]").click()  # no answer chosen: the message, on the page
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#answer-error")).to_be_visible()
    check_accessibility(page, "partner-answer-error")

    choose(page, "answer", "accepted")
    page.locator("#answer-form button[type=submit]").click()
    expect(page.locator("#referral-status")).to_have_class(re.compile("polku-partner-status--accepted"))
    expect(page.locator("main [role=status]").first).to_be_visible()
    expect(page.locator("input[name=answer]")).to_have_count(1)  # only "started" can come next
    expect(page.locator("input[name=answer][value=started]")).to_be_checked()
    page.locator("#answer-form button[type=submit]").click()
    expect(page.locator("#referral-status")).to_have_class(re.compile("polku-partner-status--started"))
    expect(page.locator("#outcome")).to_be_visible()  # done needs its outcome

    page.locator("#text").fill("Asiakkaalle varattu aika terveystarkastukseen ensi viikolle.")
    page.locator("#note-form button[type=submit]").click()
    expect(page.locator("#note-list")).to_contain_text("Asiakkaalle varattu aika terveystarkastukseen")
    expect(page.locator("#answer-history li")).to_have_count(2)
    docs_screenshot(page, "partner-view")
    check_accessibility(page, "partner-referral-answered")

    refused = page.goto("/cases/DEMO-001")  # a client she has no referral of
    assert refused is not None and refused.status == 403
    expect(page.locator("main")).not_to_contain_text("Testi Aaltonen")
    page.goto("/partner")
    expect(page.locator("#open-referrals, #closed-referrals").first).to_contain_text(client)
