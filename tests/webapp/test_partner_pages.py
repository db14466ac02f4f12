"""The partners' view as a partner's staff member uses it: the list, one referral, answers, notes, the JSON API;
what they cannot open (403, and the attempt logged), and the mail that brings them here (a link, no client data).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry, DisclosureLogEntry
from casework.case_access import Relationship
from casework.case_manager import AssignmentReason, assign
from casework.case_notes import CaseNote, Visibility
from casework.client import register_client
from casework.client_case import open_case
from casework.consent import ConsentMethod, record_consent
from casework.identity_code import IdentityCodeKeys
from casework.network import PartnerKind, add_partner
from casework.notification import OutboxMessage
from casework.plan import Goal, ItemKind, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import PARTNER_VIEW_PATH, ServiceReferral, record_referral, tell_partner
from casework.users import Role, StaffUser
from engine.runtime import Engine
from tests.casework.conftest import CODES
from tests.conftest import TestClock
from tests.diagrams import chain, process
from tests.webapp.support import app_client, basic, csrf_token, sign_in

WAITS = process(
    "partner_wait",
    '<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="wait_answer">'
    '<bpmn:messageEventDefinition messageRef="msg_answer"/></bpmn:intermediateCatchEvent>'
    '<bpmn:userTask id="answered" name="Answered"/><bpmn:endEvent id="end"/>'
    + chain("start", "wait_answer", "answered", "end"),
    extra='<bpmn:message id="msg_answer" name="partnerAnswer"/>')
ACCOUNTS = {"hoitaja": Role.PARTNER, "paja": Role.PARTNER, "aino": Role.COORDINATOR, "root": Role.ADMIN}


@dataclass
class Referral:
    case_id: str
    key: str
    referral_id: str
    client: str


@dataclass
class World:
    client: FlaskClient
    mine: Referral
    other: Referral  # to the workshop, another client


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    engine.deploy({"partner_wait.bpmn": WAITS})
    client = app_client(engine, ACCOUNTS)
    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    with engine.db.transaction() as s:
        health = add_partner(s, "Terveysasema Kuvitelma", PartnerKind.HEALTH_CARE, email="ta@example.invalid").id
        ngo = add_partner(s, "Kuvitteellinen työpaja ry", PartnerKind.NGO, email="paja@example.invalid").id
        for user_id, partner_id in (("hoitaja", health), ("paja", ngo)):
            s.get(StaffUser, user_id).partner_id = partner_id  # type: ignore[union-attr]
        s.get(StaffUser, "aino").email = "aino@example.invalid"  # type: ignore[union-attr]
    made = []
    for n, partner_id in enumerate((health, ngo)):
        key = f"PV-{n}"
        case_id = engine.start("partner_wait", business_key=key)
        with engine.db.transaction() as s:
            person = register_client(s, keys, name=f"Kuvitteellinen Asiakas {n}", identity_code=CODES[n],
                                     at=clock(), phone=f"040 000 000{n}", email=f"asiakas{n}@example.invalid")
            open_case(s, case_id, person.id, clock())
            assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
            plan = save_plan(s, case_id, PlanDraft(
                goals=[Goal("Terveys kuntoon", date(2026, 4, 1), "aino", main=True)],
                services=[PlannedService(ServiceType.HEALTH_CHECK, "Terveysasema Kuvitelma", "Hoitaja",
                                         date(2026, 2, 1), partner_id=partner_id)]), by="aino", at=clock())
            item = next(i for i in plan.items if i.kind is ItemKind.SERVICE)
            given = record_consent(s, person.id, partner_id, "terveystarkastus", clock(), recorded_by="aino",
                                   method=ConsentMethod.WRITTEN)
            row = record_referral(s, item, case_id, by="aino", consent_id=given.id, at=clock())
            assert row.referral_id is not None
            made.append(Referral(case_id, key, row.referral_id, person.name))
    clock.advance(minutes=5)
    return World(client, made[0], made[1])


def log_rows(engine: Engine) -> list[tuple[str, str | None, AccessAction, str, str]]:
    with engine.db.read() as s:
        return [(r.user_id, r.case_id, r.action, r.what, r.why)
                for r in s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id))]


def test_a_partner_lands_on_their_referrals_and_sees_only_their_own(engine: Engine, world: World) -> None:
    client = world.client
    sign_in(client, "hoitaja")
    assert client.get("/").headers["Location"].endswith("/partner")
    page = client.get("/partner")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert world.mine.client in html and world.other.client not in html
    assert f"/partner/referrals/{world.mine.referral_id}" in html
    assert world.mine.key not in html  # no case number: the case page is not theirs
    assert re.search(r'href="/partner"[^>]*>\s*(Lähetteet|Referrals)', html)
    assert log_rows(engine) == [("hoitaja", world.mine.case_id, AccessAction.VIEW, "partner's list of referrals",
                                 Relationship.PARTNER.value)]


def test_the_referral_page_shows_the_contact_and_notes_shared_with_the_network(engine: Engine, world: World,
                                                                               clock: TestClock) -> None:
    with engine.db.transaction() as s:
        for text, visibility in (("Asiakas toivoo aamupäivää", Visibility.NETWORK),
                                 ("Vain tiimin tietoon", Visibility.CASE_TEAM)):
            s.add(CaseNote(case_id=world.mine.case_id, author_id="aino", author_name="Aino", text=text,
                           visibility=visibility, created_at=clock()))
    client = world.client
    sign_in(client, "hoitaja")
    for _ in range(2):
        html = client.get(f"/partner/referrals/{world.mine.referral_id}").get_data(as_text=True)
    assert world.mine.client in html and "040 000 0000" in html and "asiakas0@example.invalid" in html
    assert "Asiakas toivoo aamupäivää" in html and "Vain tiimin tietoon" not in html
    assert CODES[0] not in html
    assert [r[2:4] for r in log_rows(engine)] == [(AccessAction.VIEW, "partner's view of a referral")] * 2
    with engine.db.read() as s:  # the first view under the consent is a disclosure, once
        assert len(s.scalars(select(DisclosureLogEntry)).all()) == 1


def test_another_clients_referral_and_the_case_page_are_refused_and_logged(engine: Engine, world: World) -> None:
    client = world.client
    sign_in(client, "hoitaja")
    refused = client.get(f"/partner/referrals/{world.other.referral_id}")
    assert refused.status_code == 403 and world.other.client not in refused.get_data(as_text=True)
    assert client.get("/partner/referrals/00000000-0000-0000-0000-000000000000").status_code == 404
    posted = client.post(f"/partner/referrals/{world.other.referral_id}/answer",
                         data={"csrf_token": csrf_token(client, "/partner"), "answer": "accepted"})
    assert posted.status_code == 403
    denied = [(r[0], r[1]) for r in log_rows(engine) if r[2] is AccessAction.DENIED]
    assert denied == [("hoitaja", world.other.case_id)] * 2
    with engine.db.read() as s:
        assert s.get(ServiceReferral, s.scalar(select(ServiceReferral.plan_item_id).where(
            ServiceReferral.referral_id == world.other.referral_id))).status.value == "requested"  # type: ignore


def test_the_case_page_is_not_a_partners(engine: Engine, world: World) -> None:
    """Even of their own client: the partner relationship opens the partners' view only."""
    client = world.client
    sign_in(client, "hoitaja")
    response = client.get(f"/cases/{world.mine.key}")
    assert response.status_code == 403
    assert log_rows(engine)[-1][1:3] == (world.mine.case_id, AccessAction.DENIED)


def test_answers_from_the_page_move_the_referral_and_the_process(engine: Engine, world: World) -> None:
    client = world.client
    sign_in(client, "hoitaja")
    url = f"/partner/referrals/{world.mine.referral_id}"
    token = csrf_token(client, url)
    missing = client.post(url + "/answer", data={"csrf_token": token, "expected": "requested"})
    assert missing.status_code == 400 and "error-summary" in missing.get_data(as_text=True)
    accepted = client.post(url + "/answer", data={"csrf_token": token, "answer": "accepted", "expected": "requested"})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith(url)
    assert [t.element_id for t in engine.open_tasks(world.mine.case_id)] == ["answered"]
    # the same form sent again (a second tab, a colleague): a clear conflict, not a second answer
    again = client.post(url + "/answer", data={"csrf_token": token, "answer": "refused", "expected": "requested"})
    assert again.status_code == 409 and 'id="answer-conflict"' in again.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert 'value="started"' in page and 'value="refused"' not in page
    client.post(url + "/answer", data={"csrf_token": token, "answer": "started", "expected": "accepted"})
    no_outcome = client.post(url + "/answer", data={"csrf_token": token, "answer": "done", "expected": "started",
                                                    "outcome": " "})
    assert no_outcome.status_code == 400 and 'id="outcome-error"' in no_outcome.get_data(as_text=True)
    done = client.post(url + "/answer", data={"csrf_token": token, "answer": "done", "expected": "started",
                                              "outcome": "Tarkastus tehty"})
    assert done.status_code == 302
    final = client.get(url).get_data(as_text=True)
    assert "Tarkastus tehty" in final and 'id="no-more-answers"' in final
    with engine.db.read() as s:  # the case manager heard of each answer, by mail without client data
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "staff:aino")).all()
    assert len(mail) == 3 and all(world.mine.client not in m.body for m in mail)


def test_a_note_for_the_case_manager(engine: Engine, world: World) -> None:
    client = world.client
    sign_in(client, "hoitaja")
    url = f"/partner/referrals/{world.mine.referral_id}"
    token = csrf_token(client, url)
    empty = client.post(url + "/notes", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 400 and 'id="text-error"' in empty.get_data(as_text=True)
    saved = client.post(url + "/notes", data={"csrf_token": token, "text": "Aika varattu 12.1."})
    assert saved.status_code == 302
    assert "Aika varattu 12.1." in client.get(url).get_data(as_text=True)
    with engine.db.read() as s:
        [note] = s.scalars(select(CaseNote)).all()
    assert (note.author_id, note.referral_id, note.visibility) == ("hoitaja", world.mine.referral_id,
                                                                   Visibility.CASE_TEAM)
    assert (AccessAction.CREATE, "network partner's note on a referral") in [r[2:4] for r in log_rows(engine)]


def test_the_referral_mail_carries_only_the_link(engine: Engine, world: World, clock: TestClock) -> None:
    with engine.db.transaction() as s:
        row = s.scalar(select(ServiceReferral).where(ServiceReferral.referral_id == world.mine.referral_id))
        assert row is not None
        tell_partner(s, row, "partner-referral", "https://polku.example.invalid", clock(), key="test-mail")
    with engine.db.read() as s:
        [mail] = s.scalars(select(OutboxMessage).where(OutboxMessage.key == "test-mail")).all()
    link = "https://polku.example.invalid" + PARTNER_VIEW_PATH.format(referral_id=world.mine.referral_id)
    assert link in mail.body
    for personal in (world.mine.client, "040 000 0000", "asiakas0@example.invalid", CODES[0], world.mine.key):
        assert personal not in mail.body and personal not in mail.subject
    sign_in(world.client, "hoitaja")
    assert world.client.get(link.removeprefix("https://polku.example.invalid")).status_code == 200


def test_the_json_api_does_what_the_pages_do(engine: Engine, world: World) -> None:
    client = world.client
    listed = client.get("/api/partner/referrals", headers=basic("hoitaja")).json
    assert listed is not None and [r["referralId"] for r in listed["referrals"]] == [world.mine.referral_id]
    base = f"/api/partner/referrals/{world.mine.referral_id}"
    detail = client.get(base, headers=basic("hoitaja")).json
    assert detail is not None and detail["client"]["phone"] == "040 000 0000"
    assert detail["nextAnswers"] == ["accepted", "refused", "not_available"]
    ok = client.post(base + "/answer", json={"answer": "accepted", "expectedStatus": "requested"},
                     headers=basic("hoitaja"))
    assert ok.status_code == 200 and ok.json == {"referralId": world.mine.referral_id, "status": "accepted",
                                                 "processTold": True}
    late = client.post(base + "/answer", json={"answer": "refused"}, headers=basic("hoitaja"))
    assert late.status_code == 409
    bad = client.post(base + "/answer", json={"answer": "maybe"}, headers=basic("hoitaja"))
    assert bad.status_code == 400
    note = client.post(base + "/notes", json={"text": "Soitettu"}, headers=basic("hoitaja"))
    assert note.status_code == 201 and note.json is not None and note.json["text"] == "Soitettu"
    assert client.post(base + "/notes", json={"text": ""}, headers=basic("hoitaja")).status_code == 400
    assert client.get(base, headers=basic("paja")).status_code == 403
    assert client.get(base, headers=basic("aino")).status_code == 403  # staff use the case page
    admin = client.get("/api/partner/referrals", headers=basic("root"))
    assert admin.status_code == 200 and admin.json == {"partnerId": None, "referrals": []}
    sign_in(client, "hoitaja")  # a session caller needs the CSRF token for a POST
    assert client.post(base + "/notes", json={"text": "Ilman tokenia"}).status_code == 400
    denied = [r for r in log_rows(engine) if r[2] is AccessAction.DENIED]
    assert [(r[0], r[1]) for r in denied] == [("paja", world.mine.case_id)]
