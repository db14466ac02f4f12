"""Acting on a case from its page in a real browser: recording a consent lets the referral waiting for it go, and
a case manager change is requested. Demo cases (polku/demo.py): DEMO-018 (Malli Tuominen) waits for the client's
consent to the health station, Anna manages it; DEMO-016 (Keksitty Salonen) is managed by Ville.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, sign_in

pytestmark = pytest.mark.browser

WAITING = "DEMO-018"
CHANGING = "DEMO-016"


def choose(page: Any, name: str, value: str) -> None:
    radio = page.locator(f"input[name={name}][value='{value}']")
    page.locator(f"label[for='{radio.get_attribute('id')}']").click()
    expect(radio).to_be_checked()


def requested_services(page: Any, path: str, want: int, timeout_s: float = 20.0) -> int:
    """How many of the plan's services show as requested, reloading while the workers send the referral."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(path)
        found = page.locator("#plan-services .polku-sections__status--requested").count()
        if found >= want or time.monotonic() > deadline:
            return int(found)
        time.sleep(0.5)


def test_recording_a_consent_on_the_case_page_sends_the_referral_that_waited_for_it(visit: Visit) -> None:
    page = sign_in(visit, "koordinaattori.anna")
    page.goto(f"/cases/{WAITING}")
    expect(page.locator("#consents-waited")).to_be_visible()
    expect(page.locator("#plan-services .polku-sections__status--requested")).to_have_count(1)
    check_accessibility(page, "case-sections")
    health = page.locator("#consent-partner option", has_text="Terveysasema").first.get_attribute("value")
    page.select_option("#consent-partner", value=health)
    page.locator("#consent-scope").fill("Lähete terveystarkastukseen ja palaute asiakasvastaavalle")
    choose(page, "method", "oral")
    page.locator("#consent-save").click()  # no witness named: the form comes back with the input kept
    expect(page.locator("#consent-error-summary")).to_be_visible()
    expect(page.locator("#consent-witness")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#consent-scope")).to_have_value("Lähete terveystarkastukseen ja palaute asiakasvastaavalle")
    check_accessibility(page, "case-consent-error")
    page.locator("#consent-witness").fill("Kuvitteellinen Todistaja")
    page.locator("#consent-save").click()
    expect(page.locator("main [role=status]").first).to_be_visible()
    assert requested_services(page, f"/cases/{WAITING}", 2) == 2
    expect(page.locator("#consents-waited")).to_have_count(0)


def test_a_case_manager_change_is_requested_from_the_case_page(visit: Visit) -> None:
    page = sign_in(visit, "koordinaattori.ville")
    page.goto(f"/cases/{CHANGING}#actions")
    expect(page.locator("form#request-change")).to_be_visible()
    page.locator("#change-request").click()  # nothing chosen: both mistakes named, next to their fields
    expect(page.locator("#change-error-summary")).to_be_visible()
    expect(page.locator("#change-note")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "case-change-error")
    choose(page, "reason", "workload")
    page.locator("#change-note").fill("Siirryn toiseen tiimiin kuun lopussa")
    page.locator("#change-request").click()
    expect(page.locator("main [role=status]").first).to_be_visible()
    expect(page.locator("p#request-change")).to_be_visible()  # the request stands; the form is gone
    check_accessibility(page, "case-change-requested")
