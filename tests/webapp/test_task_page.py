"""The task page (/tasks/<task id>): people doing the steps of bpmn/ through their forms.

Cases are driven through the real process (referrals received, jobs run by the real handlers); the step
under test is done through the page as a person would: open it, claim it, fill it in, save a draft,
complete it, or be told why not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from casework.access_log import AccessLogEntry
from casework.case_manager import current_case_manager
from casework.client import find_by_identity_code
from casework.identity_code import fictitious_code
from casework.referral import receive_referral
from casework.task_drafts import TaskDraft
from casework.teams import add_member, add_team
from casework.users import Role, add_user, get_user
from engine.models import Task, TaskStatus
from engine.runtime import Engine
from polku.settings import ROOT
from tests.conftest import TestClock
from tests.scenarios.conftest import BROAD, LIGHT, World, make_world
from tests.webapp.support import password_hash, sign_in
from webapp import create_app

PEOPLE = {"koordinaattori.anna": Role.COORDINATOR, "koordinaattori.ville": Role.COORDINATOR,
          "sosiaalityo.pekka": Role.CASE_MANAGER, "esihenkilo.maria": Role.TEAM_LEAD}
ENGLISH: dict[str, str] = json.loads((ROOT / "bpmn" / "i18n" / "en.json").read_text(encoding="utf-8"))
OUTSIDER = "ulkopuolinen.olli"  # a coordinator of a team that answers for none of the groups


class Site:
    """bpmn/ deployed, a team answering for its groups, and one signed-in browser per person."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.engine = world.engine
        with self.engine.db.transaction() as session:
            add_team(session, "turku", "Työkykytiimi Turku", world.clock())
            add_team(session, "salo", "Työkykytiimi Salo", world.clock(), groups={})  # answers for no group of bpmn/
            for user in PEOPLE:
                get_user(session, user).password_hash = password_hash()
                add_member(session, "turku", user)
            add_user(session, OUTSIDER, "Olli Ulkopuolinen", [Role.COORDINATOR], world.clock()).password_hash = \
                password_hash()
            add_member(session, "salo", OUTSIDER)
        self.app = create_app({"ENGINE": self.engine, "TESTING": True,
                               "IDENTITY_CODE_KEYS": world.services.keys})
        self.browsers: dict[str, FlaskClient] = {}

    def browser(self, user: str) -> FlaskClient:
        if user not in self.browsers:
            client = self.app.test_client()
            sign_in(client, user)
            with client.session_transaction() as session:
                session["lang"] = "en"  # the messages asserted here are the English ones; Finnish is the default
            self.browsers[user] = client
        return self.browsers[user]

    def task_id(self, case_id: str, element: str) -> str:
        tasks = [t for t in self.engine.open_tasks(case_id) if t.element_id == element]
        assert tasks, f"no open {element}; open: {self.world.open_tasks(case_id)}"
        return tasks[0].id

    def row(self, task_id: str) -> Task:
        with self.engine.db.read() as session:
            row = session.get(Task, task_id)
            assert row is not None
            session.expunge(row)
            return row

    def open(self, user: str, task_id: str) -> tuple[int, str]:
        response = self.browser(user).get(f"/tasks/{task_id}")
        return response.status_code, response.get_data(as_text=True)

    def post(self, user: str, task_id: str, action: str, data: dict[str, Any] | None = None,
             follow: bool = False) -> tuple[int, str, str | None]:
        _, page = self.open(user, task_id)
        token = csrf(page)
        response = self.browser(user).post(f"/tasks/{task_id}", data={"csrf_token": token, "action": action,
                                                                     **(data or {})}, follow_redirects=follow)
        return response.status_code, response.get_data(as_text=True), response.headers.get("Location")

    def claim(self, user: str, task_id: str) -> None:
        status, _, location = self.post(user, task_id, "claim")
        assert status == 302 and location and location.endswith(f"/tasks/{task_id}")

    def complete(self, user: str, task_id: str, data: dict[str, Any]) -> str:
        """Claim if needed, complete through the page, run the jobs; returns the page the person lands on."""
        if self.row(task_id).assignee != user:
            self.claim(user, task_id)
        status, page, location = self.post(user, task_id, "complete", form_data(data))
        assert status == 302, text_of(page)[:1500]
        assert location and "/tasks/" not in location  # back to the inbox
        with self.browser(user).session_transaction() as session:
            messages = [text for category, text in session.get("_flashes", []) if category == "success"]
        assert self.row(task_id).status == TaskStatus.COMPLETED
        self.world.work()
        return " ".join(messages)

    def log_rows(self) -> int:
        with self.engine.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0)


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_data(values: dict[str, Any]) -> dict[str, str]:
    """Values as a browser posts them (booleans as the yes/no radios' values)."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in values.items()
            if v is not None}


def text_of(page: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def error_next_to(page: str, field_id: str) -> str | None:
    """The message shown next to the field (its line in the page), without the screen reader's "Error:"."""
    match = re.search(rf'id="field-{field_id}-error">(.*)', page)
    return text_of(match.group(1)).replace("Error:", "").strip() if match else None


def checked(page: str, field_id: str) -> str | None:
    for tag in re.findall(rf'<input[^>]*name="{field_id}"[^>]*>', page, re.S):
        if " checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)  # type: ignore[union-attr]
    return None


def input_value(page: str, field_id: str) -> str | None:
    field_id = re.escape(field_id)
    area = re.search(rf'<textarea[^>]*name="{field_id}"[^>]*>(.*?)</textarea>', page, re.S)
    if area:
        return unescape(area.group(1))
    tag = re.search(rf'<input[^>]*name="{field_id}"[^>]*>', page, re.S)
    if tag:
        value = re.search(r'value="([^"]*)"', tag.group(0))
        return unescape(value.group(1)) if value else ""
    select_ = re.search(rf'<select[^>]*name="{field_id}"[^>]*>(.*?)</select>', page, re.S)
    if select_:
        chosen = re.search(r'<option value="([^"]*)" selected', select_.group(1))
        return chosen.group(1) if chosen else ""
    return None


@pytest.fixture
def site(engine: Engine, clock: TestClock) -> Site:
    return Site(make_world(engine, clock))


def mapped(site: Site, name: str, mapping: dict[str, Any] = BROAD) -> str:
    case = site.world.refer(name)
    site.world.task(case, "needs_mapping", mapping, actor="koordinaattori.anna")
    return case


def named(site: Site, name: str, manager: str = "koordinaattori.anna") -> str:
    case = mapped(site, name)
    site.world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": manager},
                    actor="koordinaattori.anna")
    return case


# -- the needs mapping: claim, a validation error, fix, complete ------------------------------------------------

def test_needs_mapping_claim_then_an_error_is_shown_next_to_the_field_with_the_input_kept_then_completed(
        site: Site) -> None:
    case = site.world.refer("Testi Aaltonen")
    task = site.task_id(case, "needs_mapping")
    status, page = site.open("koordinaattori.anna", task)
    assert status == 200 and 'id="claim-button"' in page and 'id="task-form"' not in page
    assert ENGLISH["needs_mapping"] in page  # the step's name in the reader's language
    site.claim("koordinaattori.anna", task)
    status, page = site.open("koordinaattori.anna", task)
    assert 'id="task-form"' in page and 'id="complete-button"' in page and 'id="draft-button"' in page
    assert checked(page, "motivation") == "some" and checked(page, "physicalRating") == "0"  # the defaults
    assert 'type="date"' not in page and checked(page, "pathClear") is None  # required, no default

    answers = {**BROAD, "physicalRating": 7, "clientView": "En tiedä, mistä saisin apua.", "physicalNotes": "Selkä"}
    del answers["pathClear"]
    status, page, _ = site.post("koordinaattori.anna", task, "complete", form_data(answers))
    assert status == 400
    summary = re.search(r'id="error-summary".*?</ul>', page, re.S)
    assert summary and 'href="#field-pathClear"' in summary.group(0)
    assert 'href="#field-physicalRating"' in summary.group(0)
    assert error_next_to(page, "pathClear") and error_next_to(page, "physicalRating")
    assert "3" in (error_next_to(page, "physicalRating") or "")  # "3 or less"
    assert input_value(page, "clientView") == "En tiedä, mistä saisin apua."
    assert input_value(page, "physicalNotes") == "Selkä" and checked(page, "motivation") == "some"
    assert site.row(task).status == TaskStatus.OPEN

    landing = site.complete("koordinaattori.anna", task, BROAD)
    assert landing == f"Done: {ENGLISH['needs_mapping']}."
    assert site.world.open_tasks(case) == ["confirm_decision"]
    assert site.engine.case(case)["variables"]["psychologicalRating"] == 3


# -- the decision names a case manager ----------------------------------------------------------------------------

def test_the_decision_form_names_a_case_manager_from_the_list_of_people_who_may_be_one(site: Site) -> None:
    case = mapped(site, "Testi Bergström")
    task = site.task_id(case, "confirm_decision")
    site.claim("koordinaattori.anna", task)
    _, page = site.open("koordinaattori.anna", task)
    assert checked(page, "decision") == "coordinator"  # the DMN's recommendation, pre-filled
    staff_list = re.search(r'<select[^>]*name="caseManager".*?</select>', page, re.S)
    assert staff_list and "Pekka Sosiaalityöntekijä" in staff_list.group(0)
    assert "esihenkilo.maria" not in staff_list.group(0)  # a team lead is not a case manager

    status, page, _ = site.post("koordinaattori.anna", task, "complete",
                                {"decision": "coordinator", "caseManager": "nobody.here"})
    assert status == 400 and error_next_to(page, "caseManager")
    assert site.row(task).status == TaskStatus.OPEN

    site.complete("koordinaattori.anna", task, {"decision": "coordinator", "caseManager": "sosiaalityo.pekka"})
    with site.engine.db.read() as session:
        manager = current_case_manager(session, case)
        assert manager is not None and manager.user_id == "sosiaalityo.pekka"
    plan = site.task_id(case, "make_plan")
    assert site.row(plan).assignee == "sosiaalityo.pekka"
    _, page = site.open("sosiaalityo.pekka", plan)
    panel = re.search(r'id="case-panel".*?</aside>', page, re.S)
    assert panel and "Pekka Sosiaalityöntekijä" in panel.group(0) and "Testi Bergström" in panel.group(0)


# -- conflicts ----------------------------------------------------------------------------------------------------

def test_two_coordinators_claim_the_same_task_one_gets_it_the_other_a_clear_message(site: Site) -> None:
    task = site.task_id(site.world.refer("Testi Castrén"), "needs_mapping")
    _, anna_page = site.open("koordinaattori.anna", task)
    _, ville_page = site.open("koordinaattori.ville", task)
    assert 'id="claim-button"' in anna_page and 'id="claim-button"' in ville_page
    first = site.browser("koordinaattori.anna").post(f"/tasks/{task}", data={"csrf_token": csrf(anna_page),
                                                                            "action": "claim"})
    second = site.browser("koordinaattori.ville").post(f"/tasks/{task}", data={"csrf_token": csrf(ville_page),
                                                                              "action": "claim"})
    assert first.status_code == 302 and second.status_code == 409
    message = text_of(second.get_data(as_text=True))
    assert "Anna Koordinaattori took this task first" in message
    assert site.row(task).assignee == "koordinaattori.anna"


def test_two_people_complete_the_same_task_one_succeeds_the_other_is_told_and_nothing_breaks(site: Site) -> None:
    case = site.world.refer("Testi Donner")
    task = site.task_id(case, "needs_mapping")
    site.claim("koordinaattori.anna", task)
    _, anna_page = site.open("koordinaattori.anna", task)  # Anna has the form open...
    site.engine.set_assignee(task, "koordinaattori.ville", actor="esihenkilo.maria", reason="Anna sairaana")
    site.complete("koordinaattori.ville", task, LIGHT)  # ...while Ville, now its assignee, completes it
    response = site.browser("koordinaattori.anna").post(f"/tasks/{task}", data={
        "csrf_token": csrf(anna_page), "action": "complete", **form_data(BROAD)})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "already completed by Ville Koordinaattori" in text_of(page) and 'id="task-problem"' in page
    assert site.engine.case(case)["variables"]["physicalRating"] == 1  # Ville's answers stand
    again = site.browser("koordinaattori.anna").post(f"/tasks/{task}", data={
        "csrf_token": csrf(anna_page), "action": "complete", **form_data(BROAD)})
    assert again.status_code == 409


def test_the_same_person_completing_twice_gets_one_success_and_one_message(site: Site) -> None:
    task = site.task_id(site.world.refer("Testi Ekman"), "needs_mapping")
    site.claim("koordinaattori.anna", task)
    _, page = site.open("koordinaattori.anna", task)
    data = {"csrf_token": csrf(page), "action": "complete", **form_data(LIGHT)}
    first = site.browser("koordinaattori.anna").post(f"/tasks/{task}", data=data)
    second = site.browser("koordinaattori.anna").post(f"/tasks/{task}", data=data)
    assert first.status_code == 302 and second.status_code == 409
    assert "already completed by Anna Koordinaattori" in text_of(second.get_data(as_text=True))


# -- drafts -------------------------------------------------------------------------------------------------------

def test_a_draft_is_kept_per_person_shown_again_with_its_time_and_removed_on_completion(site: Site) -> None:
    task = site.task_id(site.world.refer("Testi Forsman"), "needs_mapping")
    site.claim("koordinaattori.anna", task)
    status, _, location = site.post("koordinaattori.anna", task, "draft", {
        "physicalRating": "2", "clientView": "Kesken: jatketaan huomenna", "pathClear": "", "motivation": "high"})
    assert status == 302 and location and location.endswith(f"/tasks/{task}")
    site.world.clock.advance(minutes=20)
    _, page = site.open("koordinaattori.anna", task)
    assert 'id="draft-notice"' in page and "draft saved at" in text_of(page)
    assert input_value(page, "clientView") == "Kesken: jatketaan huomenna"
    assert checked(page, "physicalRating") == "2" and checked(page, "motivation") == "high"
    assert site.row(task).status == TaskStatus.OPEN  # a draft is not an answer
    assert "physicalRating" not in site.engine.case(site.row(task).case_id)["variables"] or \
        site.engine.case(site.row(task).case_id)["variables"]["physicalRating"] != 2
    with site.engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(TaskDraft)) == 1
    site.complete("koordinaattori.anna", task, LIGHT)
    with site.engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(TaskDraft)) == 0


# -- who may see ---------------------------------------------------------------------------------------------------

def test_someone_outside_the_team_gets_403_and_no_client_data_and_unknown_tasks_404(site: Site) -> None:
    task = site.task_id(site.world.refer("Testi Grönroos"), "needs_mapping")
    before = site.log_rows()
    status, page = site.open(OUTSIDER, task)
    assert status == 403 and "Testi Grönroos" not in page and 'id="task-forbidden"' in page
    response = site.browser(OUTSIDER).post(f"/tasks/{task}", data={"csrf_token": csrf(page), "action": "claim"})
    assert response.status_code == 403
    response = site.browser(OUTSIDER).post(f"/tasks/{task}", data={"csrf_token": csrf(page), "action": "complete",
                                                                   **form_data(LIGHT)})
    assert response.status_code == 403 and site.row(task).status == TaskStatus.OPEN
    assert site.log_rows() == before
    status, page = site.open("koordinaattori.anna", "00000000-0000-0000-0000-000000000000")
    assert status == 404 and 'id="task-missing"' in page
    anonymous = site.app.test_client().get(f"/tasks/{task}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_team_lead_sees_the_team_s_task_read_only_and_cannot_complete_it(site: Site) -> None:
    task = site.task_id(site.world.refer("Testi Hellström"), "needs_mapping")
    status, page = site.open("esihenkilo.maria", task)
    assert status == 200 and 'id="lead-note"' in page and 'id="task-form"' not in page
    assert 'id="task-answers"' in page and 'id="claim-button"' not in page
    status, page, _ = site.post("esihenkilo.maria", task, "complete", form_data(LIGHT))
    assert status == 409 and site.row(task).status == TaskStatus.OPEN


# -- the access log ------------------------------------------------------------------------------------------------

def test_each_page_view_writes_the_access_log_once(site: Site) -> None:
    case = site.world.refer("Testi Ilves")
    task = site.task_id(case, "needs_mapping")
    before = site.log_rows()
    site.open("koordinaattori.anna", task)
    assert site.log_rows() == before + 1
    site.open("esihenkilo.maria", task)
    assert site.log_rows() == before + 2
    with site.engine.db.read() as session:
        rows = list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(2)))
    assert [(r.user_id, r.role, r.case_id) for r in rows] == [("esihenkilo.maria", "team_lead", case),
                                                              ("koordinaattori.anna", "coordinator", case)]
    assert all(r.what == "task page needs_mapping" and "Grönroos" not in r.what for r in rows)


# -- languages -----------------------------------------------------------------------------------------------------

def test_swedish_labels_and_choices_when_the_language_is_swedish(site: Site) -> None:
    task = site.task_id(mapped(site, "Testi Juslin"), "confirm_decision")
    site.claim("koordinaattori.anna", task)
    browser = site.browser("koordinaattori.anna")
    _, page = site.open("koordinaattori.anna", task)
    browser.post("/language", data={"csrf_token": csrf(page), "lang": "sv", "next": f"/tasks/{task}"})
    _, page = site.open("koordinaattori.anna", task)
    assert '<html lang="sv">' in page
    assert "Samordnarens beslut och utseende av klientansvarig" in page  # the task's name
    assert "Klientansvarig (användar-id)" in page  # a field label
    assert "Work ability coordinator" not in page and "Sektorsövergripande samservice" in page  # enum values
    assert "Koordinaattorin päätös" not in page
    browser.post("/language", data={"csrf_token": csrf(page), "lang": "fi", "next": f"/tasks/{task}"})
    _, page = site.open("koordinaattori.anna", task)
    assert "Koordinaattorin päätös ja asiakasvastaavan nimeäminen" in page  # Finnish: the diagram's own text
    browser.post("/language", data={"csrf_token": csrf(page), "lang": "sv", "next": f"/tasks/{task}"})
    status, page, _ = site.post("koordinaattori.anna", task, "complete", {"decision": "coordinator",
                                                                        "caseManager": "nobody.here"})
    assert status == 400 and "Palvelutarpeen" not in page


# -- readonly and every type (a diagram of our own) ---------------------------------------------------------------

EVERY_TYPE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://polku.test">
  <bpmn:process id="every_type" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:userTask id="fill" name="Kaikki kenttätyypit" camunda:candidateGroups="coordinators">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="title" label="Otsikko" type="string">
            <camunda:validation><camunda:constraint name="required" /><camunda:constraint name="minlength" config="3" />
            <camunda:constraint name="maxlength" config="10" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="count" label="Määrä" type="long" defaultValue="5">
            <camunda:validation><camunda:constraint name="min" config="1" />
            <camunda:constraint name="max" config="100" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="agreed" label="Sovittu" type="boolean" />
          <camunda:formField id="meeting" label="Tapaaminen" type="date">
            <camunda:validation><camunda:constraint name="min" config="2026-01-01" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="colour" label="Väri" type="enum" defaultValue="blue">
            <camunda:value id="red" name="Punainen" /><camunda:value id="blue" name="Sininen" />
          </camunda:formField>
          <camunda:formField id="size" label="Koko" type="enum">
            <camunda:value id="xs" name="XS" /><camunda:value id="s" name="S" /><camunda:value id="m" name="M" />
            <camunda:value id="l" name="L" /><camunda:value id="xl" name="XL" /><camunda:value id="xxl" name="XXL" />
            <camunda:value id="xxxl" name="XXXL" />
          </camunda:formField>
          <camunda:formField id="referenceNumber" label="Viite" type="string">
            <camunda:validation><camunda:constraint name="readonly" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="fixedLevel" label="Taso" type="long" defaultValue="2">
            <camunda:validation><camunda:constraint name="readonly" /></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_every_camunda_type_is_asked_with_its_own_input_and_readonly_fields_cannot_be_changed(site: Site) -> None:
    site.engine.deploy({"every-type.bpmn": EVERY_TYPE.encode()}, name="test")
    case = site.engine.start("every_type", business_key="T-1", variables={"referenceNumber": "R-77"})
    task = site.task_id(case, "fill")
    site.claim("koordinaattori.anna", task)
    _, page = site.open("koordinaattori.anna", task)
    assert re.search(r'<input[^>]*name="title"[^>]*minlength="3"[^>]*maxlength="10"', page, re.S)
    assert input_value(page, "count") == "5" and 'inputmode="numeric"' in page
    assert re.search(r'<input[^>]*type="radio"[^>]*name="agreed"[^>]*value="true"', page, re.S)
    assert re.search(r'<input[^>]*name="meeting"[^>]*type="date"[^>]*min="2026-01-01"', page, re.S)
    assert checked(page, "colour") == "blue" and "Sininen" in page
    assert re.search(r'<select[^>]*name="size"', page) and "XXXL" in page  # many values: a select
    assert 'name="referenceNumber"' not in page and "R-77" in page  # readonly: shown, not an input
    assert 'id="field-title"' in page and '<label for="field-title"' in page

    status, page, _ = site.post("koordinaattori.anna", task, "complete", {
        "title": "ab", "count": "abc", "agreed": "", "meeting": "2025-12-31", "colour": "green", "size": "m"})
    assert status == 400
    for field in ("title", "count", "meeting", "colour"):
        assert error_next_to(page, field), field
    assert input_value(page, "count") == "abc" and input_value(page, "meeting") == "2025-12-31"

    site.complete("koordinaattori.anna", task, {"title": "Kelpaa", "count": "42", "agreed": "true",
                                                "meeting": "2026-02-01", "colour": "red", "size": "xl",
                                                "referenceNumber": "HACKED", "fixedLevel": "9"})
    variables = site.engine.case(case)["variables"]
    assert variables["title"] == "Kelpaa" and variables["count"] == 42 and variables["agreed"] is True
    assert variables["meeting"] == "2026-02-01" and variables["colour"] == "red" and variables["size"] == "xl"
    assert variables["referenceNumber"] == "R-77" and variables.get("fixedLevel") in (None, 2)


# -- every user task of bpmn/ renders and completes ----------------------------------------------------------------

def user_task_ids() -> set[str]:
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    found: set[str] = set()
    for name in ("work-ability-support.bpmn", "service-coordination.bpmn"):
        root = etree.parse(str(ROOT / "bpmn" / name)).getroot()
        found |= {t.get("id") for t in root.iterfind(".//bpmn:userTask", ns)}
    return found


def dated(site: Site, answers: dict[str, Any]) -> dict[str, Any]:
    soon = (site.world.clock.now + timedelta(days=7)).date().isoformat()
    return {k: soon if v == SOON else v for k, v in answers.items()}


def step(site: Site, case: str, element: str, answers: dict[str, Any], actor: str) -> None:
    """Do a step on the way to the one under test (through the engine, as the scenarios do), with `answers`
    and any valid answer to the step's other questions."""
    task = site.task_id(case, element)
    site.engine.complete_task(task, dated(site, {**valid_answers(site.row(task).form or {}), **answers}),
                              actor=actor)
    site.world.work()


def _self_referred(site: Site) -> str:
    with site.engine.db.transaction() as session:
        variables = receive_referral(session, site.world.services.keys, {
            "clientName": "Itse Hakeutunut", "personalId": fictitious_code(date(1985, 1, 1), 950), "language": "fi",
            "phone": "050 000 0000",
            "referralReason": "Haluan apua", "referralConsent": True, "urgency": "normal"}, site.world.clock())
    return site.engine.start("work_ability_support", business_key="SELF-1", variables=variables)


def _with_plan(site: Site, *partners: str, consent: bool = True) -> str:
    case = named(site, "Testi Kallio")
    for partner in partners:
        if consent:
            site.world.consent(case, partner)
    site.world.task(case, "make_plan", site.world.plan(*partners), actor="koordinaattori.anna")
    return case


def _follow_up(site: Site) -> str:
    case = _with_plan(site, "employment")
    site.world.answer(case, "employment")
    site.world.fire(case, "follow_up_due")
    return case


def _change(site: Site) -> str:
    case = _with_plan(site, "employment")
    site.world.message("caseManagerChange", case, changeRequestedBy="esihenkilo.maria")
    return case


def _closing(site: Site) -> str:
    case = _follow_up(site)
    step(site, case, "follow_up_review", {"followUpDecision": "close", "goalProgress": "reached"},
                    actor="koordinaattori.anna")
    return case


def _escalated(site: Site) -> str:
    case = site.world.refer("Testi Viivästynyt")
    site.world.fire(case, "mapping_overdue")
    return case


def _team_consultation(site: Site) -> str:
    case = _follow_up(site)
    step(site, case, "follow_up_review", {"followUpDecision": "team_review", "goalProgress": "ongoing"},
                    actor="koordinaattori.anna")
    return case


def _handover_meeting(site: Site) -> str:
    case = _closing(site)
    step(site, case, "handover_plan", {"closureReason": "employment", "nextResponsible": "Työllisyyspalvelut"},
                    actor="koordinaattori.anna")
    return case


def _old_confirms(site: Site) -> str:
    case = _change(site)
    step(site, case, "name_new_case_manager", {"newCaseManager": "koordinaattori.ville",
                                                   "changeReason": "workload"}, actor="esihenkilo.maria")
    return case


def _new_confirms(site: Site) -> str:
    case = _old_confirms(site)
    step(site, case, "confirm_handover_old", {"handoverNotesOld": "Tavattu"}, actor="koordinaattori.anna")
    return case


def _partner_silent(site: Site) -> str:
    case = _with_plan(site, "employment")
    site.world.fire(case, "reminder_due")
    site.world.fire(case, "escalation_due")
    return case


def _refused_service(site: Site) -> str:
    case = _with_plan(site, "health")
    site.world.answer(case, "health", decision="refused")
    return case


SOON = "<a week from today>"  # stands for a date a week after the test clock's today, filled in by `dated`
# How a case reaches each user task, who does it, and the answers that matter for the path (the other fields
# get any answer their type and constraints accept: `valid_answers`).
ROUTES: dict[str, tuple[Callable[[Site], str], str, dict[str, Any]]] = {
    "identify_self_referred": (_self_referred, "koordinaattori.anna", {"identityVerified": True, "urgency": "normal"}),
    "needs_mapping": (lambda s: s.world.refer("Testi Kartoitus"), "koordinaattori.anna", BROAD),
    "mapping_escalation": (_escalated, "esihenkilo.maria", {"escalationAction": "Siirretty Villelle"}),
    "confirm_decision": (lambda s: mapped(s, "Testi Päätös"), "koordinaattori.anna",
                         {"decision": "coordinator", "caseManager": "koordinaattori.anna"}),
    "work_ability_team_review": (
        lambda s: _team_review(s), "koordinaattori.ville",
        {"decision": "social_worker", "caseManager": "sosiaalityo.pekka", "teamNotes": "Sosiaalityö vetää"}),
    "make_plan": (lambda s: named(s, "Testi Suunnitelma"), "koordinaattori.anna",
                  {"mainGoal": "Työkokeilu", "followUpInterval": "P3M", "nextMeeting": SOON, "clientAgreed": "true",
                   "services[0].serviceType": "work_trial", "services[0].provider": "Työllisyyspalvelut",
                   "services[0].responsible": "Keksitty työvalmentaja", "services[0].startDue": SOON}),
    "follow_up_review": (_follow_up, "koordinaattori.anna",
                         {"goalProgress": "ongoing", "followUpDecision": "continue", "nextReviewDate": SOON}),
    "follow_up_team_review": (_team_consultation, "koordinaattori.ville", {"teamNotes": "Jatketaan"}),
    "handover_plan": (_closing, "koordinaattori.anna",
                      {"closureReason": "employment", "nextResponsible": "Työllisyyspalvelut",
                       "nextResponsibleContact": "029 000 0000", "continuationPlan": "Työ jatkuu"}),
    "handover_meeting": (_handover_meeting, "koordinaattori.anna",
                         {"meetingDate": SOON, "meetingHeld": True,
                          "summaryForClient": "Jatkossa työllisyyspalvelut"}),
    "name_new_case_manager": (_change, "esihenkilo.maria",
                              {"newCaseManager": "koordinaattori.ville", "changeReason": "workload"}),
    "confirm_handover_old": (_old_confirms, "koordinaattori.anna",
                             {"handoverNotesOld": "Asiakas tavattu", "jointMeetingDate": SOON}),
    "confirm_handover_new": (_new_confirms, "koordinaattori.ville", {"handoverConfirmed": True}),
    "obtain_consent": (lambda s: _with_plan(s, "health", consent=False), "koordinaattori.anna",
                       {"consentObtained": False, "consentNotes": "Asiakas ei halua"}),
    "chase_partner": (_partner_silent, "koordinaattori.anna", {"chaseDecision": "drop", "chaseNotes": "Ei tavoitettu"}),
    "find_alternative": (_refused_service, "koordinaattori.anna",
                         {"alternativeDecision": "drop", "alternativeNotes": "Toinen terveysasema"}),
}


def _team_review(site: Site) -> str:
    case = mapped(site, "Testi Tiimi")
    step(site, case, "confirm_decision", {"decision": "team_review", "overrideReason": "Epäselvä"},
                    actor="koordinaattori.anna")
    return case


def test_the_driven_routes_name_user_tasks_of_bpmn() -> None:
    assert set(ROUTES) <= user_task_ids(), sorted(set(ROUTES) - user_task_ids())


@pytest.mark.parametrize("element", sorted(ROUTES))
def test_every_user_task_renders_every_field_and_completes_through_its_page(site: Site, element: str) -> None:
    reach, user, answers = ROUTES[element]
    site.world.clock.advance(days=1)
    case = reach(site)
    task = site.task_id(case, element)
    status, page = site.open(user, task)
    assert status == 200, text_of(page)[:800]
    form = site.row(task).form or {}
    for field in form.get("fields", []):
        assert f'id="field-{field["id"]}' in page, field["id"]
        assert re.search(rf'<(label for|legend)[^>]*>|<label for="field-{field["id"]}"', page)
    landing = site.complete(user, task, dated(site, {**answers_for(site, task), **answers}))
    assert landing == f"Done: {ENGLISH.get(element, site.row(task).name)}."
    assert all(t.id != task for t in site.engine.open_tasks(case))


def test_the_client_s_age_is_shown_when_the_identity_code_can_be_read(site: Site) -> None:
    case = site.world.refer("Testi Lahtinen", code="010190-900P")
    task = site.task_id(case, "needs_mapping")
    _, page = site.open("koordinaattori.anna", task)
    with site.engine.db.read() as session:
        assert find_by_identity_code(session, site.world.services.keys, "010190-900P") is not None
    panel = re.search(r'id="panel-client">(.*?)</dd>', page, re.S)
    assert panel and "Testi Lahtinen" in panel.group(1) and "36" in panel.group(1)
    assert "010190-900P" not in page  # the code itself is never shown here


# -- every form of bpmn/, whatever the process does around it -------------------------------------------------------

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def user_tasks() -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        for task in etree.parse(str(path)).getroot().iter(f"{{{BPMN_NS}}}userTask"):
            found[str(task.get("id"))] = task
    return found


def alone(task: etree._Element) -> bytes:
    """A process holding only a copy of `task` (offered to the coordinators), to open and complete its form."""
    copy = etree.fromstring(etree.tostring(task))
    for name in ("assignee", "candidateUsers", "candidateGroups"):
        copy.attrib.pop(f"{{{CAMUNDA_NS}}}{name}", None)
    copy.set(f"{{{CAMUNDA_NS}}}candidateGroups", "coordinators")
    for flow in copy.findall(f"{{{BPMN_NS}}}incoming") + copy.findall(f"{{{BPMN_NS}}}outgoing"):
        copy.remove(flow)
    key = f"form_of_{task.get('id')}"
    root = etree.fromstring(f"""<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}"
        id="d" targetNamespace="http://polku.test"><bpmn:process id="{key}" isExecutable="true">
        <bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{task.get('id')}" />
        <bpmn:sequenceFlow id="f2" sourceRef="{task.get('id')}" targetRef="end" /><bpmn:endEvent id="end" />
        </bpmn:process></bpmn:definitions>""".encode())
    root[0].insert(1, copy)
    return etree.tostring(root)


def valid_answers(form: dict[str, Any]) -> dict[str, str]:
    """An answer to every field that its type and constraints accept (a person's plausible answer)."""
    answers: dict[str, str] = {}
    for field in form.get("fields", []):
        c, kind, default = field.get("constraints") or {}, field.get("type"), field.get("default")
        if field.get("readonly"):
            continue
        if kind == "enum":
            answers[field["id"]] = default or field["options"][0]["id"]
        elif kind == "boolean":
            answers[field["id"]] = str(default or "true").lower()
        elif kind == "long":
            answers[field["id"]] = str(default or c.get("min") or 1)
        elif kind == "date":
            answers[field["id"]] = str(c.get("min") or SOON)
        elif field["id"] in ("caseManager", "newCaseManager"):
            answers[field["id"]] = "koordinaattori.anna"
        elif field.get("required") or c.get("minlength"):  # free text is asked only when the form insists
            text = "Testivastaus".ljust(int(c.get("minlength") or 0), "x")
            answers[field["id"]] = text[:int(c.get("maxlength") or 200)]
    return answers


def camunda_answers(container: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Posted answers to a Camunda Form's fields outside repeating lists (those start with no rows)."""
    answers: dict[str, str] = {}
    for component in container.get("components", []):
        kind, key = component.get("type"), component.get("key")
        name = f"{prefix}{key}"
        values = [v.get("value") for v in component.get("values") or []]
        if kind == "group":
            path = component.get("path")
            answers.update(camunda_answers(component, f"{prefix}{path}." if path else prefix))
        elif kind in ("textfield", "textarea"):
            answers[name] = "Testivastaus"
        elif kind == "number":
            answers[name] = str((component.get("validate") or {}).get("min") or 1)
        elif kind == "datetime":
            answers[name] = SOON
        elif kind == "checkbox":
            answers[name] = "true"
        elif kind in ("radio", "select", "checklist", "taglist") and values:
            answers[name] = str(values[0])
    return answers


def answers_for(site: Site, task: str) -> dict[str, str]:
    """Valid answers to the task's form, whichever kind it is."""
    form = site.row(task).form or {}
    if form.get("form_ref") and not form.get("fields"):
        schema = site.engine.task_form_schema(task)
        assert schema is not None, f"the form {form['form_ref']} is not deployed"
        return camunda_answers(schema)
    return valid_answers(form)


@pytest.mark.parametrize("element", sorted(user_tasks()))
def test_every_form_of_bpmn_is_shown_with_a_label_per_field_and_completes_with_valid_answers(
        site: Site, element: str) -> None:
    task_xml = user_tasks()[element]
    forms = {f"{p.name}": p.read_bytes() for p in sorted((ROOT / "bpmn" / "forms").glob("*.form"))}
    site.engine.deploy({f"{element}.bpmn": alone(task_xml), **forms}, name=element)
    case = site.engine.start(f"form_of_{element}", business_key=f"FORM-{element}")
    task = site.task_id(case, element)
    site.claim("koordinaattori.anna", task)
    status, page = site.open("koordinaattori.anna", task)
    assert status == 200
    form = site.row(task).form or {}
    for field in form.get("fields", []):
        html_id = f"field-{field['id']}"
        if field.get("readonly"):
            assert f'id="{html_id}-readonly"' in page, field["id"]
        else:
            assert f'id="{html_id}"' in page, field["id"]
            assert re.search(rf'<label (class="[^"]*" )?for="{html_id}"', page), field["id"]
    site.complete("koordinaattori.anna", task, dated(site, answers_for(site, task)))
    assert site.engine.case(case)["status"] == "completed"


# -- a Camunda Form step (the plan) through the same page -----------------------------------------------------------

def test_the_plan_step_shows_its_camunda_form_adds_rows_keeps_input_on_error_and_completes_with_two_services(
        site: Site) -> None:
    case = named(site, "Testi Mäkelä")
    task = site.task_id(case, "make_plan")
    _, page = site.open("koordinaattori.anna", task)
    assert 'data-form="plan"' in page and 'id="complete-button"' in page and 'id="form-unavailable"' not in page
    soon = (site.world.clock.now + timedelta(days=14)).date().isoformat()
    first = {"mainGoal": "Työkokeilu omalla alalla", "followUpInterval": "P3M", "clientAgreed": "true",
             "services[0].serviceType": "work_trial", "services[0].provider": "Työllisyyspalvelut",
             "services[0].responsible": "Keksitty työvalmentaja", "services[0].startDue": soon}
    browser = site.browser("koordinaattori.anna")
    response = browser.post(f"/tasks/{task}", data={"csrf_token": csrf(page), "_add": "services", **first})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="services[1].provider"' in page  # a second row, nothing lost
    assert input_value(page, "services[0].provider") == "Työllisyyspalvelut"
    second = {"services[1].serviceType": "health_check", "services[1].provider": "Terveysasema",
              "services[1].startDue": soon}  # no responsible person: refused
    status, page, _ = site.post("koordinaattori.anna", task, "complete", {**first, **second})
    assert status == 400 and 'id="error-summary"' in page
    assert input_value(page, "services[1].provider") == "Terveysasema" and site.row(task).status == TaskStatus.OPEN
    site.complete("koordinaattori.anna", task, {**first, **second,
                                                "services[1].responsible": "Kuvitteellinen terveydenhoitaja"})
    plans = site.world.plans(case)
    assert len(plans) == 1
    assert sorted(i.provider_organisation or "" for i in plans[0].items if i.kind.value == "service") == [
        "Terveysasema",
        "Työllisyyspalvelut"]
