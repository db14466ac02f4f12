"""Signing in and out, a wrong password, the language choice, and the sign-in page by keyboard alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import PASSWORD, Visit, check_accessibility

pytestmark = pytest.mark.browser

FOCUS_SHOWN = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return outline || (s.boxShadow && s.boxShadow !== 'none');
}"""


def focused(page: Any) -> str:
    """The focused element as `tag#id.class` (what a keyboard user is on)."""
    return str(page.evaluate("""() => { const e = document.activeElement;
        return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''); }"""))


def tab_to(page: Any, selector: str, limit: int = 30) -> None:
    """Press Tab until the element matching `selector` has the focus; the focus must be visible at every stop."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        on_page = page.evaluate("document.activeElement !== document.body")  # else: in the browser's own bar
        assert not on_page or page.evaluate(FOCUS_SHOWN), f"the focus on {focused(page)} cannot be seen"
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with Tab (focus is on {focused(page)})")


def test_a_coordinator_signs_in_and_out(visit: Visit) -> None:
    page = visit.page()
    page.goto("/")
    assert page.url.endswith("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fi")
    expect(page.locator("h1")).to_have_text("Kirjaudu Polkuun")
    check_accessibility(page, "sign-in")

    page.get_by_label("Käyttäjätunnus").fill("koordinaattori.anna")
    page.get_by_label("Salasana").fill(PASSWORD)
    page.get_by_role("button", name="Kirjaudu sisään").click()
    expect(page.locator(".polku-user")).to_have_text("Anna Kuvitelma")
    expect(page).not_to_have_url(re.compile(r"/login"))
    check_accessibility(page, "signed-in")

    page.get_by_role("button", name="Kirjaudu ulos").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_have_text("Olet kirjautunut ulos.")
    check_accessibility(page, "signed-out")
    page.goto("/")
    assert page.url.endswith("/login"), "signed out, the pages ask to sign in again"


def test_a_wrong_password_is_refused_with_the_user_name_kept(visit: Visit) -> None:
    page = visit.page()
    page.goto("/login")
    page.get_by_label("Käyttäjätunnus").fill("koordinaattori.ville")
    page.get_by_label("Salasana").fill("not the password at all")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Kirjaudu sisään").click()
    assert answer.value.status == 401
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Käyttäjätunnus tai salasana on väärä.")
    assert page.get_by_label("Käyttäjätunnus").input_value() == "koordinaattori.ville"
    assert page.get_by_label("Salasana").input_value() == "", "a password is never sent back"
    assert page.locator("form[action='/logout']").count() == 0
    check_accessibility(page, "sign-in-wrong-password")

    page.get_by_label("Käyttäjätunnus").fill("")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    expect(page.get_by_role("link", name="Käyttäjätunnus: Anna käyttäjätunnuksesi.")).to_be_visible()
    assert page.locator("#user_id").get_attribute("aria-invalid") == "true"
    page.get_by_role("link", name="Käyttäjätunnus: Anna käyttäjätunnuksesi.").click()
    assert page.evaluate("document.activeElement.id") == "user_id", "the error summary leads to the field"
    check_accessibility(page, "sign-in-missing-fields")


def choose_language(page: Any, code: str, button: str) -> None:
    page.locator("#polku-lang").select_option(code)
    page.get_by_role("button", name=button).click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def test_the_language_is_finnish_first_then_the_users_choice_remembered(visit: Visit, another_visit: Visit) -> None:
    page = visit.page()
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("Kirjaudu Polkuun")
    choose_language(page, "sv", "Vaihda")
    expect(page.locator("h1")).to_have_text("Logga in på Polku")
    expect(page.get_by_label("Användarnamn")).to_be_visible()
    check_accessibility(page, "sign-in-sv")

    page.get_by_label("Användarnamn").fill("tiimi.terttu")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Uppgifter")
    check_accessibility(page, "signed-in-sv")

    choose_language(page, "en", "Byt")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Inbox")
    check_accessibility(page, "signed-in-en")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Sign in to Polku")  # the choice outlives signing out
    page.get_by_label("User name").fill("tiimi.terttu")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    elsewhere = another_visit.page()  # another device: a Finnish browser, the account remembers English
    elsewhere.goto("/login")
    expect(elsewhere.locator("h1")).to_have_text("Kirjaudu Polkuun")
    elsewhere.get_by_label("Käyttäjätunnus").fill("tiimi.terttu")
    elsewhere.get_by_label("Salasana").fill(PASSWORD)
    elsewhere.get_by_role("button", name="Kirjaudu sisään").click()
    expect(elsewhere.locator("html")).to_have_attribute("lang", "en")
    expect(elsewhere.get_by_role("button", name="Sign out")).to_be_visible()
    choose_language(elsewhere, "fi", "Change")
    expect(elsewhere.get_by_role("button", name="Kirjaudu ulos")).to_be_visible()


def test_the_sign_in_page_by_keyboard_alone(visit: Visit) -> None:
    page = visit.page()
    page.goto("/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('polku-skip')")
    box = page.locator(".polku-skip").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the skip link shows when it has the focus"
    assert page.evaluate(FOCUS_SHOWN)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"

    tab_to(page, "#user_id", limit=1)
    page.keyboard.type("sosiaalityo.pekka")
    tab_to(page, "#password", limit=1)
    page.keyboard.type(PASSWORD)
    tab_to(page, "main button[type=submit]", limit=1)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".polku-user")).to_have_text("Pekka Esimerkki")

    tab_to(page, "#polku-lang")
    tab_to(page, "form[action='/logout'] button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    expect(page.get_by_role("status")).to_have_text("Olet kirjautunut ulos.")
