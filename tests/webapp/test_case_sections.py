"""The case page's plan, network, history and letters, and the actions on a case, with real cases.

Cases go through bpmn/ with the real handlers (tests.scenarios.conftest.World); the people act through the
case page (/cases/<case number>) and its forms as they would in a browser, and the tests look at what the page
then says and where the process went.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_manager import assignment_history, current_case_manager
from casework.client_case import ClientCase
from casework.consent import ConsentGiver, ConsentMethod, consents_of_client
from casework.service_referral import ServiceReferral, ServiceStatus
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.scenarios.conftest import BROAD, make_world
from tests.webapp.support import basic
from tests.webapp.test_task_page import Site, csrf, text_of

ANNA, VILLE, PEKKA, MARIA = "koordinaattori.anna", "koordinaattori.ville", "sosiaalityo.pekka", "esihenkilo.maria"
WITNESS = "Kuvitteellinen Todistaja"


@pytest.fixture
def site(engine: Engine, clock: TestClock) -> Site:
    return Site(make_world(engine, clock))


def key_of(site: Site, case: str) -> str:
    return str(site.engine.case(case)["businessKey"])


def named_case(site: Site, name: str, email: str | None = "auto") -> str:
    """A referral mapped as broad and decided: Anna is the case manager (a client without email gets letters to
    print)."""
    case = site.world.refer(name, email=email)
    site.world.task(case, "needs_mapping", BROAD, actor=ANNA)
    site.world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": ANNA}, actor=ANNA)
    return case


def planned(site: Site, *partners: str, consented: tuple[str, ...] = (), name: str = "Testi Kallio",
            email: str | None = "auto") -> str:
    case = named_case(site, name, email)
    for partner in consented:
        site.world.consent(case, partner)
    site.world.task(case, "make_plan", site.world.plan(*partners), actor=ANNA)
    return case


def page(site: Site, user: str, case: str) -> str:
    response = site.browser(user).get(f"/cases/{key_of(site, case)}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def post(site: Site, user: str, case: str, path: str, data: dict[str, str]) -> tuple[str, str]:
    """Posts a case page form as a browser would; (where it was sent, the page it lands on, as text)."""
    token = csrf(page(site, user, case))
    response = site.browser(user).post(f"/cases/{key_of(site, case)}{path}", data={"csrf_token": token, **data})
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    location = response.headers["Location"]
    landed = site.browser(user).get(location.split("#")[0]).get_data(as_text=True)
    site.world.work()
    return location, landed


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return text_of(match.group(0))


def referral_status(site: Site, case: str, partner: str) -> ServiceStatus | None:
    with site.engine.db.read() as session:
        row = session.get(ServiceReferral, int(site.world.service_ids(case)[partner]))
        return row.status if row is not None else None


def logged(site: Site, what: str) -> list[tuple[str, AccessAction]]:
    with site.engine.db.read() as session:
        entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.what == what).order_by(AccessLogEntry.id))
        return [(e.user_id, e.action) for e in entries]


# -- what the page shows -----------------------------------------------------------------------------------------

def test_the_case_page_shows_the_plan_services_network_history_and_letters(site: Site) -> None:
    case = planned(site, "employment", "health", consented=("employment",), email=None)
    html = page(site, ANNA, case)
    plan = section(html, "plan")
    assert "Version 1" in plan and "Työkokeilu omalla alalla" in plan and "Terveystarkastus tehty" in plan
    assert "Not reviewed yet" in plan  # no follow-up review yet
    services = re.findall(r'<li class="polku-sections__item" id="plan-service-\d+">.*?</li>', html, re.S)
    texts = [text_of(s) for s in services]
    assert "Work trial" in texts[0] and "Requested" in texts[0] and "Työllisyyspalvelut" in texts[0]
    assert "Health check" in texts[1] and "Waiting for the client's consent" in texts[1]
    assert "Kykyviisari" in plan and "The first version of the plan." in plan
    network = section(html, "network")
    assert "Työllisyyspalvelut" in network and "In force" in network
    assert "1 referral waits for the client's consent" in network
    history = section(html, "history")
    assert "Anna Koordinaattori" in history and "Current" in history and "First case manager" in history
    letters = section(html, "letters")
    assert "Case manager named" in letters and "Open the PDF" in letters
    assert 'action="/letters/' in html and 'value="printed_and_posted"' in html
    actions = section(html, "actions")
    assert "Request a new case manager" in actions and "Call a network meeting" in actions


def test_a_team_member_may_record_consent_and_ask_for_a_change_but_not_close_and_an_outsider_may_do_nothing(
        site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    html = page(site, PEKKA, case)  # a case manager of the same team, not this case's
    assert 'id="record-consent"' in html and 'id="request-change"' in html
    assert 'id="close"' not in html and 'id="network-meeting"' not in html
    lead = page(site, MARIA, case)  # the team lead: consents, a change, a meeting; the question and closing not
    assert 'id="record-consent"' in lead and 'id="request-change"' in lead and 'id="network-meeting"' in lead
    assert 'id="consult"' not in lead and 'id="close"' not in lead
    response = site.browser(PEKKA).post(f"/cases/{key_of(site, case)}/close", data={"csrf_token": csrf(html),
                                                                                    "confirm": "yes"})
    assert response.status_code == 403
    outsider = site.browser("ulkopuolinen.olli")
    refused = outsider.get(f"/cases/{key_of(site, case)}")
    assert refused.status_code == 403
    response = outsider.post(f"/cases/{key_of(site, case)}/consents", data={
        "csrf_token": csrf(refused.get_data(as_text=True)), "partner_id": str(site.world.partners["employment"]),
        "scope": "kaikki", "given_by": "client", "method": "written"})
    assert response.status_code == 403
    assert site.world.open_tasks(case) == []
    with site.engine.db.read() as session:
        record = session.get(ClientCase, case)
        assert record is not None and len(consents_of_client(session, record.client_id)) == 1


def test_a_review_shows_goal_progress_and_ratings_and_a_revision_shows_what_changed(site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    site.world.answer(case, "employment")
    site.world.fire(case, "follow_up_due")
    site.world.task(case, "follow_up_review", {
        "followUpDecision": "revise_plan", "goalProgress": "reached", "physicalRating": 2, "psychologicalRating": 1,
        "socialRating": 1, "cognitiveRating": 0, "clientKnowsCaseManager": "yes"}, actor=ANNA)
    site.world.task(case, "make_plan", site.world.plan("employment", "ngo", revision=True), actor=ANNA)
    html = page(site, ANNA, case)
    history = section(html, "history")
    assert "Revise the plan" in history and "physical 2, psychological 1, social 1, cognitive 0" in history
    assert "Knows the case manager Yes" in history
    plan = section(html, "plan")
    assert "Version 2" in plan and "Osa-aikatyö omalla alalla" in plan
    assert "Changes from version 1:" in plan
    assert "Added: Service – Rehabilitative work activity – Kuvitteellinen työpaja ry" in plan
    assert "Changed: Main goal – Osa-aikatyö omalla alalla: text Työkokeilu omalla alalla → Osa-aikatyö" in plan
    goal = re.search(r'id="plan-goal-\d+">.*?</li>', html, re.S)
    assert goal and "Reached" in text_of(goal.group(0))  # the main goal's progress carries over to the new version


# -- consent -----------------------------------------------------------------------------------------------------

def test_recording_consent_on_the_case_page_lets_the_blocked_referral_proceed(site: Site) -> None:
    case = planned(site, "health")
    assert site.world.open_tasks(case) == ["obtain_consent"] and referral_status(site, case, "health") is None
    health = str(site.world.partners["health"])
    location, landed = post(site, ANNA, case, "/consents", {"partner_id": health, "scope": "lähete ja palaute",
                                                            "given_by": "client", "method": "oral", "witness": ""})
    assert location.endswith("#record-consent")
    network = section(landed, "network")
    assert "There is a problem" in network and "An oral consent needs the name of the witness" in network
    assert "lähete ja palaute" in network and re.search(r'value="oral" checked', landed)  # the input is kept
    assert site.world.open_tasks(case) == ["obtain_consent"]
    location, landed = post(site, ANNA, case, "/consents", {"partner_id": health, "scope": "lähete ja palaute",
                                                            "given_by": "guardian", "method": "oral",
                                                            "witness": WITNESS})
    assert location.endswith("#network")
    assert "The referral that waited for it goes to the partner now." in text_of(landed)
    assert site.world.open_tasks(case) == []  # the process recorded the consent found and sent the referral
    assert referral_status(site, case, "health") is ServiceStatus.REQUESTED
    with site.engine.db.read() as session:
        record = session.get(ClientCase, case)
        assert record is not None
        (consent,) = consents_of_client(session, record.client_id)
        assert (consent.given_by, consent.method, consent.witness) == (ConsentGiver.GUARDIAN, ConsentMethod.ORAL,
                                                                       WITNESS)
    html = page(site, ANNA, case)
    assert "Requested" in text_of(re.search(r'id="plan-service-\d+">.*?</li>', html, re.S).group(0))  # type: ignore[union-attr]
    assert "referral waits" not in section(html, "network")
    assert logged(site, "consent recorded") and logged(site, "consent recorded")[0][0] == ANNA


def test_a_consent_is_revoked_only_when_confirmed_and_only_once(site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    with site.engine.db.read() as session:
        record = session.get(ClientCase, case)
        assert record is not None
        consent_id = consents_of_client(session, record.client_id)[0].id
    location, landed = post(site, ANNA, case, f"/consents/{consent_id}/revoke", {})
    assert location.endswith(f"#consent-{consent_id}")
    assert "Confirm that the client withdrew this consent." in section(landed, "network")
    _, landed = post(site, ANNA, case, f"/consents/{consent_id}/revoke", {"confirm": "yes"})
    assert "The consent was revoked." in text_of(landed) and "Revoked" in section(landed, "network")
    token = csrf(page(site, ANNA, case))
    response = site.browser(ANNA).post(f"/cases/{key_of(site, case)}/consents/{consent_id}/revoke",
                                       data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True)
    assert response.status_code == 200 and "The consent was already revoked." in text_of(response.get_data(
        as_text=True))


# -- the case manager change ------------------------------------------------------------------------------------

def test_a_change_requested_on_the_case_page_ends_with_the_new_case_manager_and_a_letter(site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    location, landed = post(site, ANNA, case, "/case-manager-change", {"reason": "", "note": ""})
    assert location.endswith("#request-change")
    actions = section(landed, "actions")
    assert "Choose why the case manager should change." in actions and "Write a few words" in actions
    _, landed = post(site, ANNA, case, "/case-manager-change",
                     {"reason": "workload", "note": "Siirryn muihin tehtäviin"})
    assert "The change of case manager was requested." in text_of(landed)
    assert "A change of case manager was requested" in section(landed, "actions")
    assert "name_new_case_manager" in site.world.open_tasks(case)
    token = csrf(page(site, ANNA, case))  # a second request while the first is under way: a clear conflict
    response = site.browser(MARIA).post(f"/cases/{key_of(site, case)}/case-manager-change", follow_redirects=True,
                                        data={"csrf_token": csrf(page(site, MARIA, case)), "reason": "better_fit",
                                              "note": "Toinen pyyntö"})
    assert token and "a change of case manager is already under way" in text_of(response.get_data(as_text=True))
    site.world.task(case, "name_new_case_manager", {"newCaseManager": VILLE, "changeReason": "workload"}, actor=MARIA)
    site.world.task(case, "confirm_handover_old", {"handoverNotesOld": "Työkokeilu alkaa"}, actor=ANNA)
    site.world.task(case, "confirm_handover_new", {"handoverConfirmed": True}, actor=VILLE)
    with site.engine.db.read() as session:
        current = current_case_manager(session, case)
        assert current is not None and current.user_id == VILLE
        assert [a.user_id for a in assignment_history(session, case)] == [ANNA, VILLE]
    html = page(site, VILLE, case)
    history = section(html, "history")
    assert history.index("Ville Koordinaattori") < history.index("Anna Koordinaattori")  # newest first
    assert "Workload" in history
    assert "Case manager changed" in section(html, "letters")
    assert "A change of case manager was requested" not in section(html, "actions")
    assert [who for who, _action in logged(site, "case manager change requested")] == [ANNA, ANNA, MARIA]


# -- network meeting, consultation, closing ----------------------------------------------------------------------

def test_a_network_meeting_and_a_consultation_start_their_tasks_and_a_second_meeting_is_a_clear_conflict(
        site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    _, landed = post(site, ANNA, case, "/network-meeting", {})
    assert "The network meeting was called." in text_of(landed)
    assert "hold_network_meeting" in site.world.open_tasks(case)
    _, landed = post(site, ANNA, case, "/network-meeting", {})
    assert "a network meeting is already waiting to be recorded" in text_of(landed)
    location, landed = post(site, ANNA, case, "/consultation", {"question": "  "})
    assert location.endswith("#consult") and "Write your question for the coordinator." in section(landed, "actions")
    _, landed = post(site, ANNA, case, "/consultation", {"question": "Riittääkö työkokeilu?"})
    assert "The question was sent to the coordinators." in text_of(landed)
    assert "answer_consultation" in site.world.open_tasks(case)


def test_closing_opens_the_follow_up_review_with_the_decision_to_close(site: Site) -> None:
    case = planned(site, "employment", consented=("employment",))
    location, landed = post(site, ANNA, case, "/close", {})
    assert "Confirm that you want to start closing the case." in section(landed, "actions")
    token = csrf(page(site, ANNA, case))
    response = site.browser(ANNA).post(f"/cases/{key_of(site, case)}/close", data={"csrf_token": token,
                                                                                   "confirm": "yes"})
    assert response.status_code == 303 and "/tasks/" in response.headers["Location"]
    site.world.work()
    assert "follow_up_review" in site.world.open_tasks(case)
    assert site.engine.case(case)["variables"].get("followUpDecision") == "close"
    token = csrf(page(site, ANNA, case))  # asked again: the review already open is where it happens
    response = site.browser(ANNA).post(f"/cases/{key_of(site, case)}/close", data={"csrf_token": token,
                                                                                   "confirm": "yes"})
    assert "/tasks/" in response.headers["Location"]
    assert site.world.open_tasks(case).count("follow_up_review") == 1


def test_closing_before_there_is_a_plan_says_why_it_cannot_start(site: Site) -> None:
    case = named_case(site, "Testi Varhainen")
    _, landed = post(site, ANNA, case, "/close", {"confirm": "yes"})
    assert "Closing was not started" in text_of(landed) and "follow-up review" in text_of(landed)


# -- the JSON twins ----------------------------------------------------------------------------------------------

def test_the_api_records_and_lists_consents_and_shows_referrals_and_the_plan(site: Site) -> None:
    case = planned(site, "health")
    key = key_of(site, case)
    client = site.app.test_client()
    auth = basic(ANNA)
    response = client.post(f"/api/cases/{key}/consents", headers=auth, json={
        "partnerId": site.world.partners["health"], "scope": "", "givenBy": "client", "method": "oral"})
    assert response.status_code == 400 and set(response.json["errors"]) == {"scope", "witness"}
    referrals = client.get(f"/api/cases/{key}/referrals", headers=auth).json["referrals"]
    assert [(r["serviceType"], r["status"], r["waitingForConsent"]) for r in referrals] == [
        ("health_check", None, True)]
    response = client.post(f"/api/cases/{key}/consents", headers=auth, json={
        "partnerId": site.world.partners["health"], "scope": "lähete", "givenBy": "client", "method": "written"})
    assert response.status_code == 201 and response.json["referralsProceeding"] == 1
    site.world.work()
    referrals = client.get(f"/api/cases/{key}/referrals", headers=auth).json["referrals"]
    assert [(r["status"], r["waitingForConsent"]) for r in referrals] == [("requested", False)]
    consents = client.get(f"/api/cases/{key}/consents", headers=auth).json["consents"]
    assert [(c["partner"], c["state"], c["method"]) for c in consents] == [("Terveysasema", "valid", "written")]
    revoked = client.post(f"/api/cases/{key}/consents/{consents[0]['id']}/revoke", headers=auth)
    assert revoked.status_code == 200
    assert client.post(f"/api/cases/{key}/consents/{consents[0]['id']}/revoke", headers=auth).status_code == 409
    plan = client.get(f"/api/cases/{key}/plan", headers=auth).json
    assert plan["current"]["version"] == 1 and plan["versions"][0]["changes"]["from"] is None
    assert client.get(f"/api/cases/{key}/plan/diff?from=1&to=2", headers=auth).status_code == 404
    assert client.get(f"/api/cases/{key}/plan", headers=basic("ulkopuolinen.olli")).status_code == 403
    document = client.get("/api/openapi.json").json
    assert "requestBody" in document["paths"]["/api/cases/{key}/consents"]["post"]
    assert "/api/cases/{key}/plan/diff" in document["paths"]
