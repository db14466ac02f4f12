"""The case page (/cases/<case number>): who may open it (every role, with and without a relationship), what it
shows (client, case manager and whether the client was told, timeline), adding a note, and its JSON twin.

Cases are driven through the real process (tests/scenarios' world); every open is checked in the access log.
"""

from __future__ import annotations

import re
from html import unescape

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_access import Relationship
from casework.case_notes import CaseNote, Visibility
from casework.teams import add_member, add_team
from casework.users import Role, add_user, get_user
from engine.models import Case
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.scenarios.conftest import BROAD, World, make_world
from tests.webapp.support import basic, password_hash, sign_in
from webapp import create_app

CASE_TEAM = "turku"
# (user, roles, team, leads the team): the people of the matrix beside tests/scenarios' staff
PEOPLE: list[tuple[str, list[Role], str | None]] = [
    ("ulkopuolinen.olli", [Role.COORDINATOR], "salo"),  # a member of another team
    ("esihenkilo.sari", [Role.TEAM_LEAD], "salo"),  # the lead of another team
    ("koordinaattori.kalle", [Role.COORDINATOR], "koordinaattorit"),  # offered the case's coordinator tasks
    ("johtaja.jaana", [Role.MANAGER], None),
    ("yllapito.aki", [Role.ADMIN], None),
    ("kumppani.terveys", [Role.PARTNER], None),  # the health partner: referral and consent
    ("kumppani.tyollisyys", [Role.PARTNER], None),  # the employment partner: no consent, never referred
]


class Site:
    """bpmn/ deployed, two teams and a coordinators' pool, partner accounts, one signed-in client per person."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.engine = world.engine
        now = world.clock()
        with self.engine.db.transaction() as db:
            add_team(db, CASE_TEAM, "Työkykytiimi Turku", now)
            add_team(db, "salo", "Työkykytiimi Salo", now, groups={})
            add_team(db, "koordinaattorit", "Koordinaattorit", now, groups={"coordinators": Role.COORDINATOR})
            for user in ("koordinaattori.anna", "koordinaattori.ville", "sosiaalityo.pekka", "esihenkilo.maria"):
                get_user(db, user).password_hash = password_hash()
                add_member(db, CASE_TEAM, user)
            for user, roles, team in PEOPLE:
                add_user(db, user, user.split(".")[1].title(), roles, now).password_hash = password_hash()
                if team:
                    add_member(db, team, user)
            get_user(db, "kumppani.terveys").partner_id = world.partners["health"]
            get_user(db, "kumppani.tyollisyys").partner_id = world.partners["employment"]
        self.app = create_app({"ENGINE": self.engine, "TESTING": True, "IDENTITY_CODE_KEYS": world.services.keys})
        self.clients: dict[str, FlaskClient] = {}

    def client(self, user: str) -> FlaskClient:
        if user not in self.clients:
            client = self.app.test_client()
            sign_in(client, user)
            with client.session_transaction() as session:
                session["lang"] = "en"
            self.clients[user] = client
        return self.clients[user]

    def key(self, case_id: str) -> str:
        with self.engine.db.read() as db:
            found = db.get(Case, case_id)
            assert found is not None and found.business_key
            return found.business_key

    def log(self, case_id: str) -> list[tuple[str, AccessAction, str, str]]:
        with self.engine.db.read() as db:
            return [(r.user_id, r.action, r.what, r.why) for r in db.scalars(
                select(AccessLogEntry).where(AccessLogEntry.case_id == case_id).order_by(AccessLogEntry.id))]


@pytest.fixture
def site(engine: Engine, clock: TestClock) -> Site:
    return Site(make_world(engine, clock))


def managed_case(site: Site, name: str = "Testi Aaltonen") -> str:
    """A case with koordinaattori.ville as its case manager, a plan with two services: the health station's
    referred with the client's consent, the employment services' blocked for the lack of one."""
    world = site.world
    case = world.refer(name, municipality="Turku")
    world.task(case, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": "koordinaattori.ville"},
               actor="koordinaattori.anna")
    world.consent(case, "health")
    world.task(case, "make_plan", world.plan("employment", "health"), actor="koordinaattori.ville")
    return case


def new_case(site: Site, name: str = "Malli Virtanen") -> str:
    """A case waiting for its needs mapping, a task offered to the coordinators; no case manager, no team yet."""
    return site.world.refer(name)


def text_of(page: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def part(page: str, element_id: str) -> str:
    """The text of the element with this id, spaces collapsed."""
    found = lxml.html.fromstring(page).get_element_by_id(element_id, None)
    assert found is not None, f"no #{element_id} on the page"
    return " ".join(found.text_content().split())


# -- who may open it: every role, with and without a relationship ------------------------------------------------

# (user, relationship to the managed case or None: 403)
MANAGED = [
    ("koordinaattori.ville", Relationship.CASE_MANAGER),  # coordinator, case manager of the case
    ("sosiaalityo.pekka", Relationship.TEAM_MEMBER),  # case manager role, member of the case's team
    ("koordinaattori.anna", Relationship.TEAM_MEMBER),  # coordinator, member of the case's team
    ("esihenkilo.maria", Relationship.TEAM_LEAD),  # team lead of the case's team
    ("ulkopuolinen.olli", None),  # coordinator of another team
    ("esihenkilo.sari", None),  # team lead of another team
    ("koordinaattori.kalle", None),  # coordinator offered the coordinators' tasks: none open in this case
    ("johtaja.jaana", None),  # manager: aggregates, not cases
    ("yllapito.aki", None),  # admin without a relationship
    ("kumppani.terveys", None),  # partner with the referral and the client's consent: the partners' view only
    ("kumppani.tyollisyys", None),  # partner without consent (never referred)
]
# the new case: no case manager, no team, its needs mapping offered to the coordinators
NEW = [
    ("koordinaattori.kalle", Relationship.TASK),  # coordinator of another team offered a task of the case
    ("koordinaattori.anna", Relationship.TASK),
    ("sosiaalityo.pekka", None),  # the case has no team yet: a team member of nothing here
    ("esihenkilo.maria", Relationship.TASK),  # leads a team answering for the group the task is offered to
    ("ulkopuolinen.olli", None),
    ("johtaja.jaana", None),
    ("yllapito.aki", None),
]


def test_who_may_open_the_case_page_each_open_and_each_refusal_logged_once(site: Site) -> None:
    managed, new = managed_case(site), new_case(site)
    for case, matrix in ((managed, MANAGED), (new, NEW)):
        key = site.key(case)
        for user, relationship in matrix:
            before = len(site.log(case))
            response = site.client(user).get(f"/cases/{key}")
            rows = site.log(case)[before:]
            assert len(rows) == 1, (user, rows)
            who, action, what, why = rows[0]
            assert who == user and what == "case page"
            if relationship is None:
                assert response.status_code == 403, (user, response.status_code)
                assert action is AccessAction.DENIED, (user, action)
                page = text_of(response.get_data(as_text=True))
                assert "No access to this case" in page and "Testi Aaltonen" not in page
                assert "Malli Virtanen" not in page
            else:
                assert response.status_code == 200, (user, response.status_code)
                assert (action, why) == (AccessAction.VIEW, relationship.value), user


def test_an_unknown_case_number_is_a_404_page_and_logs_nothing(site: Site) -> None:
    managed_case(site)
    response = site.client("koordinaattori.ville").get("/cases/NO-SUCH-1")
    assert response.status_code == 404 and "Case not found" in text_of(response.get_data(as_text=True))
    with site.engine.db.read() as db:
        assert db.scalar(select(AccessLogEntry.id).where(AccessLogEntry.what == "case page")) is None


def test_signed_out_the_case_page_asks_to_sign_in(site: Site) -> None:
    key = site.key(managed_case(site))
    response = site.app.test_client().get(f"/cases/{key}")
    assert response.status_code in (302, 401)


# -- what it shows --------------------------------------------------------------------------------------------------

def test_the_header_names_the_client_the_case_manager_with_contact_and_since_and_whether_the_client_was_told(
        site: Site) -> None:
    case = managed_case(site)
    page = site.client("sosiaalityo.pekka").get(f"/cases/{site.key(case)}").get_data(as_text=True)
    assert part(page, "case-title") == "Testi Aaltonen"
    manager = part(page, "case-manager")
    assert "Ville Koordinaattori" in manager and "040 111 0002" in manager
    assert "koordinaattori.ville@example.invalid" in manager and "Since" in manager
    assert part(page, "case-client-told").startswith("Yes")  # the letter naming the case manager was emailed
    client = part(page, "case-client")
    assert "Turku" in client and "050 000 0000" in client and "years" in client and "Finnish" in client
    assert part(page, "case-status") == "open"
    assert "Ask the client for consent" in part(page, "case-now")  # the employment referral waits for consent
    assert "Työkykytiimi Turku" in part(page, "case-team")
    nav = part(page, "case-sections-nav")
    assert "Timeline" in nav and "Notes" in nav
    # headings for screen readers: one h1, the parts as h2
    assert len(re.findall(r"<h1[ >]", page)) == 1
    assert {"Timeline", "Notes", "Case manager"} <= {text_of(h).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>",
                                                                                            page, re.S)}


def test_the_timeline_tells_what_happened_newest_first(site: Site) -> None:
    case = managed_case(site)
    page = site.client("koordinaattori.ville").get(f"/cases/{site.key(case)}").get_data(as_text=True)
    timeline = part(page, "timeline-list")
    for said in ("Case opened", "Done: ", "Case manager: Ville Koordinaattori", "Referred to Terveysasema",
                 "Consent given for Terveysasema", "Plan version 1 saved", "Letter written"):
        assert said in timeline, said
    assert timeline.index("Case manager: Ville Koordinaattori") < timeline.index("Case opened")  # newest first


# -- notes -----------------------------------------------------------------------------------------------------------

def test_a_note_is_added_from_the_page_then_shown_with_its_visibility(site: Site) -> None:
    case = managed_case(site)
    key = site.key(case)
    client = site.client("sosiaalityo.pekka")
    page = client.get(f"/cases/{key}").get_data(as_text=True)
    response = client.post(f"/cases/{key}/notes", data={"csrf_token": csrf(page), "text": "  Soitin asiakkaalle.  ",
                                                        "visibility": "network"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{key}#notes")
    page = client.get(f"/cases/{key}").get_data(as_text=True)
    notes = part(page, "note-list")
    assert "Soitin asiakkaalle." in notes and "Pekka Sosiaalityöntekijä" in notes
    assert "shared with network partners" in notes
    assert "Note added." in text_of(page)
    assert site.log(case)[-2][:3] == ("sosiaalityo.pekka", AccessAction.CREATE, "case page: note added")
    with site.engine.db.read() as db:
        note = db.scalars(select(CaseNote)).one()
        assert (note.text, note.visibility, note.author_id) == ("Soitin asiakkaalle.", Visibility.NETWORK,
                                                               "sosiaalityo.pekka")
    assert "Soitin asiakkaalle." in part(page, "timeline-list")


def test_an_empty_or_too_long_note_is_refused_with_the_message_next_to_the_field_and_the_input_kept(
        site: Site) -> None:
    case = managed_case(site)
    key = site.key(case)
    client = site.client("koordinaattori.ville")
    page = client.get(f"/cases/{key}").get_data(as_text=True)
    before = len(site.log(case))
    response = client.post(f"/cases/{key}/notes", data={"csrf_token": csrf(page), "text": "   ",
                                                        "visibility": "case_team"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'href="#note-text"' in page and "Write the note first." in part(page, "note-text-error")
    assert len(site.log(case)) == before + 1  # the page shown again is one open, logged once
    long = "x" * 4001
    response = client.post(f"/cases/{key}/notes", data={"csrf_token": csrf(page), "text": long,
                                                        "visibility": "network"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "at most 4000" in part(page, "note-text-error")
    assert long in page and re.search(r'id="note-visibility-network"[^>]*checked', page)
    response = client.post(f"/cases/{key}/notes", data={"csrf_token": csrf(page), "text": "Hyvä",
                                                        "visibility": "everyone"})
    assert response.status_code == 400 and "Choose who may see the note." in response.get_data(as_text=True)
    with site.engine.db.read() as db:
        assert db.scalars(select(CaseNote)).first() is None


def test_someone_without_a_relationship_cannot_add_a_note(site: Site) -> None:
    case = managed_case(site)
    key = site.key(case)
    client = site.client("ulkopuolinen.olli")
    token = csrf(client.get("/cases").get_data(as_text=True))
    response = client.post(f"/cases/{key}/notes", data={"csrf_token": token, "text": "Hei", "visibility": "case_team"})
    assert response.status_code == 403
    assert site.log(case)[-1][:2] == ("ulkopuolinen.olli", AccessAction.DENIED)
    with site.engine.db.read() as db:
        assert db.scalars(select(CaseNote)).first() is None


# -- the JSON API ------------------------------------------------------------------------------------------------------

def test_the_api_gives_summary_timeline_and_notes_with_basic_auth_and_the_same_rule_and_log(site: Site) -> None:
    case = managed_case(site)
    key = site.key(case)
    api = site.app.test_client()
    summary = api.get(f"/api/cases/{key}", headers=basic("esihenkilo.maria"))
    assert summary.status_code == 200
    body = summary.get_json()
    assert body["client"]["name"] == "Testi Aaltonen" and body["caseManager"]["name"] == "Ville Koordinaattori"
    assert body["clientToldAt"] and body["relationship"] == Relationship.TEAM_LEAD.value
    assert site.log(case)[-1] == ("esihenkilo.maria", AccessAction.VIEW, "case summary (API)",
                                  Relationship.TEAM_LEAD.value)
    timeline = api.get(f"/api/cases/{key}/timeline", headers=basic("esihenkilo.maria")).get_json()
    kinds = {e["kind"] for e in timeline["entries"]}
    assert {"opened", "task", "case_manager", "referral", "consent", "letter", "plan"} <= kinds
    refused = api.get(f"/api/cases/{key}", headers=basic("ulkopuolinen.olli"))
    assert refused.status_code == 403 and refused.get_json()["type"] == "AuthorizationException"
    assert site.log(case)[-1][:2] == ("ulkopuolinen.olli", AccessAction.DENIED)
    assert api.get("/api/cases/NO-SUCH-1", headers=basic("esihenkilo.maria")).status_code == 404
    assert api.get(f"/api/cases/{key}").status_code == 401

    added = api.post(f"/api/cases/{key}/notes", json={"text": "Tapaaminen sovittu", "visibility": "case_team"},
                     headers=basic("koordinaattori.ville"))
    assert added.status_code == 201 and added.get_json()["authorName"] == "Ville Koordinaattori"
    bad = api.post(f"/api/cases/{key}/notes", json={"text": ""}, headers=basic("koordinaattori.ville"))
    assert bad.status_code == 400 and bad.get_json()["type"] == "InvalidRequestException"
    notes = api.get(f"/api/cases/{key}/notes", headers=basic("sosiaalityo.pekka")).get_json()["notes"]
    assert [n["text"] for n in notes] == ["Tapaaminen sovittu"]
    partner = api.get(f"/api/cases/{key}/notes", headers=basic("kumppani.terveys"))
    assert partner.status_code == 403


def test_the_api_with_a_session_needs_the_csrf_token_to_post(site: Site) -> None:
    case = managed_case(site)
    key = site.key(case)
    client = site.client("koordinaattori.ville")
    assert client.get(f"/api/cases/{key}").get_json()["businessKey"] == key
    refused = client.post(f"/api/cases/{key}/notes", json={"text": "Ilman tokenia"})
    assert refused.status_code == 400 and refused.get_json()["type"] == "CsrfException"
    token = csrf(client.get(f"/cases/{key}").get_data(as_text=True))
    added = client.post(f"/api/cases/{key}/notes", json={"text": "Tokenin kanssa", "visibility": "network"},
                        headers={"X-CSRFToken": token})
    assert added.status_code == 201 and added.get_json()["visibility"] == "network"


def test_the_api_endpoints_are_in_the_openapi_document(site: Site) -> None:
    paths = site.app.test_client().get("/api/openapi.json").get_json()["paths"]
    assert {"/api/cases/{key}", "/api/cases/{key}/timeline", "/api/cases/{key}/notes", "/api/cases",
            "/api/cases/search"} <= set(paths)
    assert "requestBody" in paths["/api/cases/{key}/notes"]["post"]
    assert paths["/api/cases"]["get"]["parameters"][0]["name"] == "q"
