"""The letters pages as staff use them: the print queue, one letter's PDF, a batch as one PDF, marking letters
printed and delivered (once), the JSON twins, and who may do it (403 and the access log)."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_manager import AssignmentReason, assign
from casework.client import register_client
from casework.client_case import open_case, record_decision
from casework.identity_code import IdentityCodeKeys
from casework.letter import HowDelivered, Letter, LetterKind, mark_emailed, write_letter
from casework.teams import add_member, add_team
from casework.users import Role, StaffUser
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process
from tests.webapp.support import app_client, basic, password_hash, sign_in

CASE_PROCESS = process("letters_case", '<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="Work"/>'
                       '<bpmn:endEvent id="end"/>' + chain("start", "work", "end"))
CODES = ["010190-900P", "131052-930V"]


@dataclass
class World:
    engine: Engine
    keys: IdentityCodeKeys
    cases: dict[str, str]  # "mine" / "other" -> case number
    letters: dict[str, int]


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    """Cecilia manages case A (team 'tiimi', led by Tiina) with two letters to print and one emailed; Aino
    manages case B with one letter; Bertta is a coordinator with no relationship to either."""
    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    engine.deploy({"letters_case.bpmn": CASE_PROCESS})
    with engine.db.transaction() as s:
        from casework.users import add_user

        for user_id, name, roles in (("cecilia", "Cecilia Testinen", [Role.CASE_MANAGER]),
                                     ("tiina", "Tiina Tiiminvetäjä", [Role.TEAM_LEAD]),
                                     ("aino", "Aino Esimerkki", [Role.COORDINATOR]),
                                     ("bertta", "Bertta Kuvitteellinen", [Role.COORDINATOR]),
                                     ("kumppani", "Kumppani", [Role.PARTNER])):
            add_user(s, user_id, name, roles, clock()).password_hash = password_hash()
        for user in s.scalars(select(StaffUser)):
            user.language = "en"
        add_team(s, "tiimi", "Työkykytiimi", clock())
        add_member(s, "tiimi", "cecilia")
        add_member(s, "tiimi", "tiina")
        add_team(s, "toinen", "Toinen tiimi", clock())
        add_member(s, "toinen", "aino")
    cases: dict[str, str] = {}
    case_ids: dict[str, str] = {}
    for label, code, manager, team in (("mine", CODES[0], "cecilia", "tiimi"), ("other", CODES[1], "aino", "toinen")):
        case_id = engine.start("letters_case", business_key=f"2026-{code[-4:]}")
        with engine.db.transaction() as s:
            client = register_client(s, keys, name=f"Asiakas {label.title()}", identity_code=code, at=clock())
            open_case(s, case_id, client.id, clock(), referrer="Työllisyyspalvelut").team_id = team
            record_decision(s, case_id, needs_case_manager=True, at=clock())
            assign(s, case_id, manager, AssignmentReason.INITIAL, clock())
        cases[label], case_ids[label] = f"2026-{code[-4:]}", case_id
    letters: dict[str, int] = {}
    for name, label in (("first", "mine"), ("other", "other"), ("emailed", "mine"), ("last", "mine")):
        clock.advance(days=1)
        with engine.db.transaction() as s:
            letters[name] = write_letter(s, case_id=case_ids[label], kind=LetterKind.CASE_MANAGER_NAMED,
                                         key=f"job:{name}", at=clock(), details={}).id
    with engine.db.transaction() as s:
        mark_emailed(s, letters["emailed"], clock())
    return World(engine, keys, cases, letters)


@pytest.fixture
def browser(world: World) -> Iterator[Any]:
    app = app_client(world.engine, accounts={}, IDENTITY_CODE_KEYS=world.keys).application

    def signed_in(user: str) -> FlaskClient:
        client = app.test_client()
        sign_in(client, user)
        return client

    yield signed_in


def token(client: FlaskClient, path: str = "/letters") -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="letter-row-(\d+)"', page)]


def log_rows(world: World, user: str, action: AccessAction | None = None) -> int:
    query = select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.user_id == user)
    if action is not None:
        query = query.where(AccessLogEntry.action == action)
    with world.engine.db.read() as s:
        return int(s.scalar(query) or 0)


def delivered(world: World, letter_id: int) -> tuple[HowDelivered | None, str | None]:
    with world.engine.db.read() as s:
        letter = s.get(Letter, letter_id)
        assert letter is not None
        return letter.delivered_how, letter.delivered_by


def test_the_queue_lists_the_users_letters_oldest_first_and_logs_once(world: World, browser: Any) -> None:
    client = browser("cecilia")
    page = client.get("/letters")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert listed(text) == [world.letters["first"], world.letters["last"]]  # not the emailed one, not Aino's
    assert "Asiakas Mine" in text and world.cases["mine"] in text and "Asiakas Other" not in text
    assert 'href="/letters"' in text  # the navigation entry
    assert log_rows(world, "cecilia") == 1  # two letters of one case: one access row
    assert listed(browser("tiina").get("/letters").get_data(as_text=True)) == listed(text)  # the team lead
    assert listed(browser("bertta").get("/letters").get_data(as_text=True)) == []
    assert browser("kumppani").get("/letters").status_code == 403


def test_one_letters_pdf_and_403_for_a_case_one_may_not_open(world: World, browser: Any) -> None:
    client = browser("cecilia")
    response = client.get(f"/letters/{world.letters['first']}/pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "Asiakas" not in disposition
    assert re.fullmatch(r'inline; filename="[a-z]+-\d{4}-\d{2}-\d{2}-\d+\.pdf"', disposition)
    assert log_rows(world, "cecilia", AccessAction.VIEW) == 1
    assert client.get(f"/letters/{world.letters['other']}/pdf").status_code == 403
    assert log_rows(world, "cecilia", AccessAction.DENIED) == 1  # the refused attempt is logged too
    assert client.get("/letters/999999/pdf").status_code == 404


def test_a_batch_opens_as_one_pdf_with_the_pages_of_every_chosen_letter(world: World, browser: Any) -> None:
    client = browser("cecilia")
    chosen = [world.letters["first"], world.letters["last"]]
    response = client.post("/letters/batch", data={"csrf_token": token(client), "action": "pdf",
                                                   "letter": [str(i) for i in chosen]})
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "Asiakas" not in response.headers["Content-Disposition"]
    pages = len(PdfReader(io.BytesIO(response.data)).pages)
    singles = sum(len(PdfReader(io.BytesIO(client.get(f"/letters/{i}/pdf").data)).pages) for i in chosen)
    assert pages == singles >= 2
    assert log_rows(world, "cecilia", AccessAction.PRINT) == 1  # one row for the one case of the batch
    by_get = client.get(f"/letters/batch.pdf?letter={chosen[0]}&letter={chosen[1]}")
    assert by_get.status_code == 200 and len(PdfReader(io.BytesIO(by_get.data)).pages) == pages
    mixed = client.post("/letters/batch", data={"csrf_token": token(client), "action": "pdf",
                                                "letter": [str(chosen[0]), str(world.letters["other"])]})
    assert mixed.status_code == 403


def test_a_batch_without_a_choice_says_so(world: World, browser: Any) -> None:
    client = browser("cecilia")
    response = client.post("/letters/batch", data={"csrf_token": token(client), "action": "posted"})
    assert response.status_code == 400
    assert "Choose at least one letter." in response.get_data(as_text=True)
    nonsense = client.post("/letters/batch", data={"csrf_token": token(client), "action": "posted",
                                                   "letter": ["abc"]})
    assert nonsense.status_code == 400


def test_mark_printed_then_posted_in_a_batch(world: World, browser: Any) -> None:
    client = browser("cecilia")
    chosen = [str(world.letters["first"]), str(world.letters["last"])]
    page = client.post("/letters/batch", data={"csrf_token": token(client), "action": "printed", "letter": chosen},
                       follow_redirects=True).get_data(as_text=True)
    assert "2 letters marked printed" in page and listed(page) == [int(i) for i in chosen]
    page = client.post("/letters/batch", data={"csrf_token": token(client), "action": "posted", "letter": chosen},
                       follow_redirects=True).get_data(as_text=True)
    assert "2 letters marked posted" in page and listed(page) == []
    assert delivered(world, world.letters["first"]) == (HowDelivered.PRINTED_AND_POSTED, "cecilia")


def test_marking_one_letter_delivered_twice_is_a_clear_message(world: World, browser: Any) -> None:
    client = browser("cecilia")
    letter_id = world.letters["first"]
    url = f"/letters/{letter_id}/delivered"
    first = client.post(url, data={"csrf_token": token(client), "how": "handed_over",
                                   "next": f"/cases/{world.cases['mine']}"})
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/cases/{world.cases['mine']}")
    assert delivered(world, letter_id) == (HowDelivered.HANDED_OVER, "cecilia")
    again = client.post(url, data={"csrf_token": token(client), "how": "printed_and_posted"}, follow_redirects=True)
    assert again.status_code == 200 and "already marked delivered" in again.get_data(as_text=True)
    assert delivered(world, letter_id) == (HowDelivered.HANDED_OVER, "cecilia")  # the first record stands
    evil = client.post(f"/letters/{world.letters['last']}/delivered",
                       data={"csrf_token": token(client), "how": "bogus", "next": "//evil.example"})
    assert evil.status_code == 302 and "evil.example" not in evil.headers["Location"]
    assert delivered(world, world.letters["last"]) == (None, None)
    refused = client.post(f"/letters/{world.letters['other']}/delivered",
                          data={"csrf_token": token(client), "how": "handed_over"})
    assert refused.status_code == 403 and delivered(world, world.letters["other"]) == (None, None)
    printed = client.post(f"/letters/{world.letters['last']}/printed", data={"csrf_token": token(client)})
    assert printed.status_code == 302


def test_the_json_queue_and_delivery(world: World, browser: Any) -> None:
    client = browser("cecilia")
    body = client.get("/api/letters").get_json()
    assert [letter["id"] for letter in body["letters"]] == [world.letters["first"], world.letters["last"]]
    assert body["letters"][0]["caseNumber"] == world.cases["mine"]
    api = app_client(world.engine, accounts={}).application.test_client()
    url = f"/api/letters/{world.letters['first']}/delivered"
    assert api.post(url, json={"how": "posted"}, headers=basic("cecilia")).status_code == 400
    done = api.post(url, json={"how": "printed_and_posted"}, headers=basic("cecilia"))
    assert done.status_code == 200 and done.get_json()["how"] == "printed_and_posted"
    assert api.post(url, json={"how": "handed_over"}, headers=basic("cecilia")).status_code == 409
    other = f"/api/letters/{world.letters['other']}/delivered"
    assert api.post(other, json={"how": "handed_over"}, headers=basic("cecilia")).status_code == 403
    assert api.get("/api/letters", headers=basic("kumppani")).get_json() == {"letters": []}
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/letters/{letter_id}/delivered" in spec["paths"]
