"""The referral pages: a staff member's referral (`/referrals/new`) and the public self-referral (`/referral`).

Cases go through the real process (bpmn/ with the real job handlers). The self-referral's timing check uses the
engine's clock, so the tests move the clock instead of waiting.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.access_log import AccessAction, AccessLogEntry
from casework.client import Client
from casework.client_case import ClientCase
from casework.teams import add_member, add_team
from casework.users import Role, add_user, get_user
from engine.models import Case
from tests.scenarios.conftest import BROAD, World, make_world
from tests.webapp.support import password_hash, sign_in
from webapp import create_app

CODE = "131052-930V"  # fictitious, checksum-valid
NAME = "Kuvitteellinen Lähetetty"
STAFF_FORM = {"client_name": NAME, "identity_code": CODE, "phone": "050 000 0009", "email": "l@example.invalid",
              "language": "fi", "municipality": "Esimerkkilä", "source": "employment_services",
              "referrer_organisation": "Työllisyyspalvelut", "referrer_contact": "Keksitty Ohjaaja",
              "reason": "Pitkä työttömyys", "existing_services": ["kela", "ngo"], "labour_market_status": "job_seeker",
              "unemployed_months": "14", "urgency": "normal", "consent": "y"}
SELF_FORM = {"client_name": "Itse Hakeutuja", "identity_code": "010190-900P", "phone": "", "email": "i@example.invalid",
             "language": "fi", "municipality": "Esimerkkilä", "reason": "Haluan apua työnhakuun", "consent": "y",
             "website": ""}


class Site:
    """bpmn/ deployed, the staff with passwords, the app; browsers in English unless told otherwise."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.engine = world.engine
        with self.engine.db.transaction() as session:
            add_team(session, "turku", "Työkykytiimi Turku", world.clock())
            for user in ("koordinaattori.anna", "sosiaalityo.pekka", "esihenkilo.maria"):
                get_user(session, user).password_hash = password_hash()
                add_member(session, "turku", user)
            add_user(session, "johto.jaana", "Jaana Johto", [Role.MANAGER], world.clock()).password_hash = \
                password_hash()
        self.app = create_app({"ENGINE": self.engine, "TESTING": True, "IDENTITY_CODE_KEYS": world.services.keys})

    def browser(self, user: str | None = None, lang: str = "en") -> FlaskClient:
        client = self.app.test_client()
        if user is not None:
            sign_in(client, user)
        with client.session_transaction() as session:
            session["lang"] = lang
        return client

    def counts(self) -> tuple[int, int]:
        with self.engine.db.read() as session:
            return (session.scalar(select(func.count()).select_from(Case)) or 0,
                    session.scalar(select(func.count()).select_from(Client)) or 0)


@pytest.fixture
def site(engine: Any, clock: Any) -> Site:
    return Site(make_world(engine, clock))


def token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def started(page: str) -> str:
    match = re.search(r'name="started" type="hidden" value="([^"]+)"', page)
    assert match, "no start time on the page"
    return match.group(1)


def text_of(page: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


def send_staff(client: FlaskClient, **changes: Any) -> Any:
    page = client.get("/referrals/new").get_data(as_text=True)
    return client.post("/referrals/new", data={"csrf_token": token(page), **STAFF_FORM, **changes})


def send_self(site: Site, client: FlaskClient, wait_s: float = 30, **changes: Any) -> Any:
    page = client.get("/referral").get_data(as_text=True)
    site.world.clock.advance(seconds=wait_s)  # a person takes a while to fill it in
    return client.post("/referral", data={"csrf_token": token(page), "started": started(page), **SELF_FORM,
                                          **changes})


# -- the staff referral ----------------------------------------------------------------------------------------
def test_who_may_send_a_referral(site: Site) -> None:
    assert site.browser().get("/referrals/new").status_code == 302  # to the sign-in page
    assert site.browser("johto.jaana").get("/referrals/new").status_code == 403
    for user in ("koordinaattori.anna", "sosiaalityo.pekka", "esihenkilo.maria"):
        page = site.browser(user).get("/referrals/new")
        assert page.status_code == 200
        assert 'href="/referrals/new"' in page.get_data(as_text=True)  # "New referral" in the navigation
    assert 'href="/referrals/new"' not in site.browser("johto.jaana").get("/inbox").get_data(as_text=True)


def test_a_referral_without_the_csrf_token_is_refused(site: Site) -> None:
    anna = site.browser("koordinaattori.anna")
    assert anna.post("/referrals/new", data=STAFF_FORM).status_code == 400
    assert site.counts() == (0, 0)


def test_mistakes_are_listed_at_the_top_and_next_to_their_fields_with_the_input_kept(site: Site) -> None:
    anna = site.browser("koordinaattori.anna")
    response = send_staff(anna, identity_code="131052-930W", consent="", municipality="", unemployed_months="lots")

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    start = page.index('id="error-summary"')
    summary = page[start:page.index("<form", start)]
    for field in ("identity_code", "municipality", "unemployed_months", "consent"):
        assert f'href="#{field}"' in summary
        assert f'id="{field}-error"' in page
    words = text_of(page)
    assert "The last character of the identity code does not match. Check the code for typing errors." in words
    assert "The client must agree to the referral before it can be sent." in words
    assert "Enter the client's municipality." in words
    assert f'value="{NAME}"' in page and 'value="131052-930W"' in page  # kept as typed
    assert re.search(r'value="kela" id="existing_services-kela" checked', page)
    assert site.counts() == (0, 0)


def test_a_referral_starts_a_case_that_reaches_the_coordinators(site: Site) -> None:
    anna = site.browser("koordinaattori.anna")
    response = send_staff(anna)

    assert response.status_code == 302
    location = response.headers["Location"]
    key = location.rsplit("/", 1)[1]
    assert re.fullmatch(r"/referrals/sent/OHJ-2026-[A-Z2-9]{6}", location)
    assert CODE not in location and "Lähetetty" not in location
    page = anna.get(location).get_data(as_text=True)
    assert key in text_of(page) and 'href="/inbox?tab=groups"' in page
    with site.engine.db.read() as session:
        [case] = session.scalars(select(Case)).all()
        [log] = session.scalars(select(AccessLogEntry)).all()
    assert case.business_key == key
    assert (log.user_id, log.action, log.case_id, log.what) == ("koordinaattori.anna", AccessAction.CREATE, case.id,
                                                                "referral")
    site.world.work()
    assert site.world.open_tasks(case.id) == ["needs_mapping"]
    assert key in anna.get("/inbox?tab=groups").get_data(as_text=True)


def test_a_referral_for_a_client_with_an_open_case_says_where_it_went_and_nothing_of_that_case(site: Site) -> None:
    anna = site.browser("koordinaattori.anna")
    first_key = send_staff(anna).headers["Location"].rsplit("/", 1)[1]
    site.world.work()
    with site.engine.db.read() as session:
        [first] = session.scalars(select(Case.id)).all()
    site.world.task(first, "needs_mapping", BROAD, actor="koordinaattori.anna")
    site.world.task(first, "confirm_decision", {"decision": "coordinator", "caseManager": "sosiaalityo.pekka"})

    maria = site.browser("esihenkilo.maria")
    response = send_staff(maria, reason="Uusi lähete")
    assert response.status_code == 302
    page = text_of(maria.get(response.headers["Location"]).get_data(as_text=True))
    assert "The client already has an open case" in page and "case manager" in page
    assert first_key not in page and "sosiaalityo" not in page and "Pekka" not in page
    routed_key = response.headers["Location"].rsplit("/", 1)[1]
    assert routed_key not in page  # not even the routed referral's own number
    site.world.work()
    [routed] = [c["id"] for c in site.engine.cases() if c["businessKey"] == routed_key]
    assert site.world.status(routed) == "completed"
    assert site.world.mail(routed) == ["staff:sosiaalityo.pekka"]  # the process told the case manager
    with site.engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ClientCase)) == 1


def test_only_the_sender_sees_the_confirmation(site: Site) -> None:
    location = send_staff(site.browser("koordinaattori.anna")).headers["Location"]
    assert site.browser("sosiaalityo.pekka").get(location).status_code == 404


# -- the self-referral -------------------------------------------------------------------------------------------
def test_the_self_referral_needs_no_sign_in_and_speaks_the_chosen_language(site: Site) -> None:
    page = site.browser(lang="sv").get("/referral")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="sv">' in html
    assert re.search(r'value="sv" id="language-sv" checked', html)  # the form's language follows the page's
    assert 'action="/language"' in html  # the language switch
    english = site.browser().get("/referral").get_data(as_text=True)
    assert "Ask for help with work ability" in english and "within 5 working days" in english


def test_a_self_referral_gives_the_receipt_and_starts_a_case(site: Site) -> None:
    person = site.browser()
    response = send_self(site, person)

    assert response.status_code == 302 and response.headers["Location"] == "/referral/received"
    receipt = person.get("/referral/received").get_data(as_text=True)
    words = text_of(receipt)
    assert "We have received your request" in words and "within 5 working days" in words
    assert "Itse Hakeutuja" not in words and "OHJ-" not in words
    [case] = site.engine.cases()
    assert case["businessKey"].startswith("OHJ-")
    assert [t.element_id for t in site.engine.open_tasks(case["id"])] == ["identify_self_referred"]
    with site.engine.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 0


def test_the_answer_is_the_same_for_a_person_who_already_has_a_case(site: Site) -> None:
    anna = site.browser("koordinaattori.anna")
    send_staff(anna, identity_code=SELF_FORM["identity_code"])
    site.world.work()
    new_person = send_self(site, site.browser(), identity_code=CODE)
    known_person = send_self(site, site.browser())

    assert (new_person.status_code, new_person.headers["Location"]) == (302, "/referral/received")
    assert (known_person.status_code, known_person.headers["Location"]) == (302, "/referral/received")
    assert len(site.engine.cases()) == 3  # the process routes the known person's referral after identification


def test_a_filled_honeypot_or_a_form_sent_too_fast_gets_the_receipt_and_stores_nothing(site: Site) -> None:
    bot = site.browser()
    assert send_self(site, bot, website="http://spam.example").headers["Location"] == "/referral/received"
    assert send_self(site, bot, wait_s=1).headers["Location"] == "/referral/received"
    assert send_self(site, bot, wait_s=1, consent="").status_code == 400  # a quick person's mistake is shown
    assert send_self(site, bot, started="forged").headers["Location"] == "/referral/received"
    assert site.counts() == (0, 0)


def test_a_form_left_open_too_long_is_not_sent_and_keeps_the_input(site: Site) -> None:
    response = send_self(site, site.browser(), wait_s=3 * 3600)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The form was open for a long time" in text_of(page) and 'value="Itse Hakeutuja"' in page
    assert site.counts() == (0, 0)


def test_a_self_referral_with_mistakes_shows_them_with_the_input_kept(site: Site) -> None:
    response = send_self(site, site.browser(), identity_code="010190-900", email="", consent="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    words = text_of(page)
    assert "A personal identity code is 11 characters" in words
    assert "Give a phone number or an email address, so that we can contact you." in words
    assert "Tick the box to agree" in words
    assert 'href="#identity_code"' in page and 'href="#phone"' in page and 'href="#consent"' in page
    assert 'value="010190-900"' in page and "Haluan apua työnhakuun" in page
    assert site.counts() == (0, 0)


def test_a_self_referral_without_the_csrf_token_is_refused(site: Site) -> None:
    person = site.browser()
    page = person.get("/referral").get_data(as_text=True)
    site.world.clock.advance(seconds=30)
    assert person.post("/referral", data={"started": started(page), **SELF_FORM}).status_code == 400
    assert site.counts() == (0, 0)


def test_too_many_self_referrals_from_one_address_get_a_429_page(site: Site) -> None:
    person = site.browser()
    for _ in range(5):
        assert send_self(site, person, consent="").status_code == 400
    response = send_self(site, person)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3600"
    assert "Too many requests have been sent from this address" in text_of(response.get_data(as_text=True))
    assert site.counts() == (0, 0)
    other = site.app.test_client()  # another address is not held back
    page = other.get("/referral", environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_data(as_text=True)
    site.world.clock.advance(seconds=30)
    again = other.post("/referral", data={"csrf_token": token(page), "started": started(page), **SELF_FORM},
                       environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert again.status_code == 302
