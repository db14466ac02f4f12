"""The inbox and the task page as coordinators and a team lead use them, on the demo cases.

Each test takes its own demo tasks (three needs mappings and two coordinator decisions are open in the
coordinators' group when the demo loads), so the tests do not depend on one another's order.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import Visit, check_accessibility, docs_screenshot, sign_in
from tests.browser.test_sign_in import focused, tab_to

pytestmark = pytest.mark.browser

MAPPING = "Palvelutarpeen kartoitus"
DECISION = "Koordinaattorin päätös ja asiakasvastaavan nimeäminen"
PLAN = "Työkyvyn tuen suunnitelma"


def claimable_row(page: Any, task_name: str) -> Any:
    """The first row of the "my groups" tab offering `task_name` to claim."""
    page.goto("/inbox?tab=groups")
    rows = page.locator("#inbox-table tbody tr").filter(has=page.get_by_role("link", name=task_name, exact=True))
    row = rows.filter(has=page.locator("button[id^='claim-']")).first
    expect(row).to_be_visible()
    return row


def choose(page: Any, name: str, value: str) -> None:
    """Pick a radio button as a person does: by clicking its label (HDS draws the button over the input)."""
    radio = page.locator(f"input[name={name}][value='{value}']")
    page.locator(f"label[for='{radio.get_attribute('id')}']").click()
    expect(radio).to_be_checked()


def task_id_of(row: Any) -> str:
    return str(row.get_attribute("id")).removeprefix("task-row-")


def status_message(page: Any) -> Any:
    return page.locator("main [role=status], main [role=alert]").first


def wait_for_row(page: Any, path: str, task_name: str, business_key: str, timeout_s: float = 20.0) -> Any:
    """The row of `task_name` for case `business_key` at `path`, reloading while the workers move the case on."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(path)
        row = (page.locator("#inbox-table tbody tr")
               .filter(has=page.get_by_role("link", name=task_name, exact=True)).filter(has_text=business_key))
        if row.count() or time.monotonic() > deadline:
            expect(row).to_have_count(1)
            return row
        time.sleep(0.5)


def test_claim_then_a_needs_mapping_with_a_mistake_fixed_and_completed(visit: Visit) -> None:
    page = sign_in(visit, "koordinaattori.ville")
    expect(page).to_have_url(re.compile(r"/inbox"))
    row = claimable_row(page, MAPPING)
    check_accessibility(page, "inbox-groups")
    page.locator("#inbox-filters summary").click()  # the filters, saved filters and columns, shown
    expect(page.locator("#filter-apply")).to_be_visible()
    check_accessibility(page, "inbox-filters")
    task_id = task_id_of(row)
    row.locator(f"#claim-{task_id}").click()
    expect(status_message(page)).to_contain_text(MAPPING)

    page.goto("/inbox?tab=mine")
    expect(page.locator(f"#task-row-{task_id}")).to_be_visible()
    docs_screenshot(page, "inbox")
    check_accessibility(page, "inbox-mine")
    page.locator(f"#task-link-{task_id}").click()
    expect(page.locator("#task-title")).to_have_text(MAPPING)
    expect(page.locator("#task-form")).to_be_visible()
    check_accessibility(page, "task-form")
    docs_screenshot(page, "task-form")

    # "Path clear" is the coordinator's own answer: no default, so leaving it out is a mistake
    choose(page, "psychologicalRating", "3")
    page.locator("textarea[name=clientView], input[name=clientView]").fill("Haluan töihin, mutta en tiedä miten.")
    page.locator("#complete-button").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    link = summary.get_by_role("link").filter(has_text="Palvelupolku on selkeä")
    expect(link).to_have_count(1)
    expect(page.locator("input[name=psychologicalRating][value='3']")).to_be_checked()
    expect(page.locator("textarea[name=clientView], input[name=clientView]")).to_have_value(
        "Haluan töihin, mutta en tiedä miten.")
    check_accessibility(page, "task-form-error")
    link.click()
    assert page.evaluate("document.activeElement.name") == "pathClear", "the summary leads to the question"

    choose(page, "pathClear", "false")
    page.locator("#complete-button").click()
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(status_message(page)).to_contain_text(MAPPING)
    page.goto("/inbox?tab=mine")
    expect(page.locator(f"#task-row-{task_id}")).to_have_count(0)
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#task-state")).to_contain_text("Ville Keksitty")
    check_accessibility(page, "task-completed")


def test_the_coordinator_decision_names_a_case_manager(visit: Visit, another_visit: Visit) -> None:
    page = sign_in(visit, "koordinaattori.anna")
    row = claimable_row(page, DECISION)
    task_id = task_id_of(row)
    page.locator(f"#task-link-{task_id}").click()
    expect(page.locator("#claim-button")).to_be_visible()
    check_accessibility(page, "task-to-claim")
    page.locator("#claim-button").click()
    expect(page.locator("#task-form")).to_be_visible()
    business_key = page.locator("#task-case").inner_text().split()[-1]

    choose(page, "decision", "coordinator")
    page.locator("select[name=caseManager]").select_option("koordinaattori.ville")
    check_accessibility(page, "task-decision")
    page.locator("#complete-button").click()
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(status_message(page)).to_contain_text(DECISION)

    named = sign_in(another_visit, "koordinaattori.ville")  # the named case manager gets the plan to make
    plan_row = wait_for_row(named, "/inbox?tab=mine", PLAN, business_key)
    expect(plan_row).to_contain_text(business_key)


def test_two_coordinators_claim_the_same_task_and_one_gets_it(visit: Visit, another_visit: Visit) -> None:
    first = sign_in(visit, "koordinaattori.anna")
    second = sign_in(another_visit, "tiimi.terttu")
    task_id = task_id_of(claimable_row(first, MAPPING))
    for page in (first, second):
        page.goto(f"/tasks/{task_id}")
        expect(page.locator("#claim-button")).to_be_visible()
    first.locator("#claim-button").click()
    expect(first.locator("#task-form")).to_be_visible()
    second.locator("#claim-button").click()
    expect(second.locator("#task-problem")).to_contain_text("Anna Kuvitelma")
    expect(second.locator("#task-form")).to_have_count(0)
    check_accessibility(second, "task-claim-conflict")


def test_a_team_lead_assigns_a_task_and_the_earlier_form_is_refused(visit: Visit, another_visit: Visit) -> None:
    anna = sign_in(visit, "koordinaattori.anna")
    task_id = task_id_of(claimable_row(anna, DECISION))
    anna.goto(f"/tasks/{task_id}")
    anna.locator("#claim-button").click()
    expect(anna.locator("#task-form")).to_be_visible()
    choose(anna, "decision", "team_review")

    lead = sign_in(another_visit, "esihenkilo.maria")
    lead.goto("/inbox?tab=all")
    expect(lead.locator(f"#task-row-{task_id}")).to_be_visible()
    check_accessibility(lead, "inbox-lead")
    lead.locator(f"#manage-{task_id}").click()
    lead.locator("#assign-save").click()  # nobody chosen: a message next to the field
    expect(lead.locator("#error-summary")).to_be_visible()
    check_accessibility(lead, "assign-error")
    lead.locator("#assign-person").select_option("koordinaattori.ville")
    lead.locator("#assign-reason").fill("Anna on lomalla.")
    lead.locator("#assign-save").click()
    expect(status_message(lead)).to_contain_text("Ville Keksitty")
    check_accessibility(lead, "assigned")
    lead.get_by_role("button", name="Kirjaudu ulos").click()

    ville = sign_in(another_visit, "koordinaattori.ville")
    ville.goto("/inbox?tab=mine")
    ville.locator(f"#task-link-{task_id}").click()
    choose(ville, "decision", "coordinator")
    ville.locator("select[name=caseManager]").select_option("koordinaattori.ville")
    ville.locator("#complete-button").click()
    expect(ville).to_have_url(re.compile(r"/inbox"))

    anna.locator("#complete-button").click()  # her page was open all along
    problem = anna.locator("#task-problem")
    expect(problem).to_contain_text("Ville Keksitty")
    assert anna.locator("#task-form").count() == 0
    check_accessibility(anna, "task-completion-conflict")


def test_the_inbox_and_a_form_by_keyboard_alone(visit: Visit) -> None:
    page = sign_in(visit, "tiimi.terttu")
    task_id = task_id_of(claimable_row(page, MAPPING))
    page.evaluate("document.activeElement.blur()")
    tab_to(page, f"#claim-{task_id}", limit=80)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "#tab-mine", limit=40)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, f"#task-link-{task_id}", limit=40)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#task-title")).to_have_text(MAPPING)

    tab_to(page, "input[name=physicalRating]", limit=40)
    page.keyboard.press("ArrowRight")  # arrows move within a radio group: 0 → 1
    expect(page.locator("input[name=physicalRating][value='1']")).to_be_checked()
    tab_to(page, "input[name=pathClear]", limit=40)
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked"), f"Space chose nothing on {focused(page)}"
    tab_to(page, "#complete-button", limit=40)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(status_message(page)).to_contain_text(MAPPING)


def test_a_plan_with_two_services_on_the_camunda_form(visit: Visit) -> None:
    page = sign_in(visit, "sosiaalityo.pekka")
    page.goto("/inbox?tab=mine")
    link = page.locator("#inbox-table tbody tr a[id^='task-link-']").filter(has_text=PLAN).first
    task_id = str(link.get_attribute("id")).removeprefix("task-link-")
    link.click()
    expect(page.locator("#task-title")).to_have_text(PLAN)
    form = page.locator("#task-form")
    form.get_by_label("Päätavoite").fill("Työkokeilu omalla alalla keväällä")
    page.locator("[name='intermediateGoals[0].goal']").fill("Terveystarkastus tehty")
    page.locator("[name='intermediateGoals[0].targetDate']").fill("2027-01-31")
    page.locator("[name='services[0].serviceType']").select_option("health_check")
    page.locator("[name='services[0].provider']").fill("Terveysasema Esimerkkilä")
    page.locator("[name='services[0].responsible']").fill("Kuvitteellinen terveydenhoitaja")
    page.locator("[name='services[0].startDue']").fill("2027-01-15")
    page.locator("label[for='cf-services-0--consentToShare']").click()

    page.locator("button[name=_add][value=services]").click()  # a second service: a new row, nothing lost
    expect(page.locator("#cf-services-1-")).to_be_visible()
    expect(page.locator("[name='services[0].provider']")).to_have_value("Terveysasema Esimerkkilä")
    expect(page.locator("#cf-services-0--consentToShare")).to_be_checked()
    page.locator("[name='services[1].serviceType']").select_option("work_trial")
    page.locator("[name='services[1].provider']").fill("Työllisyyspalvelut (kuvitteellinen kunta)")
    page.locator("[name='services[1].responsible']").fill("Keksitty työvalmentaja")
    page.locator("[name='services[1].startDue']").fill("2027-02-15")
    page.locator("[name='clientTasks[0].task']").fill("Kykyviisari-itsearvio")
    check_accessibility(page, "task-plan-form")

    page.locator("#complete-button").click()
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(status_message(page)).to_contain_text(PLAN)
    page.goto(f"/tasks/{task_id}")
    readonly = page.locator("#task-readonly")
    expect(readonly).to_be_visible()
    for provider in ("Terveysasema Esimerkkilä", "Työllisyyspalvelut (kuvitteellinen kunta)"):
        expect(readonly.locator(f"input[value='{provider}']")).to_have_count(1)
    check_accessibility(page, "task-plan-done")
