"""What a network partner's account sees and does: only its own referrals with the client's consent, only its part.

What a partner and a case manager notice: which referrals are on the partner's list, what one referral shows
(and what it does not), answers that move the status and reach the waiting process, notes for the case team,
and the access and disclosure logs that say who saw which client's data and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry, DisclosureLogEntry
from casework.case_access import Relationship
from casework.case_manager import AssignmentReason, assign
from casework.case_notes import CaseNote, Visibility
from casework.client import register_client
from casework.client_case import open_case
from casework.consent import ConsentMethod, record_consent, revoke_consent
from casework.errors import NotFound
from casework.identity_code import IdentityCodeKeys
from casework.network import PartnerKind, add_partner
from casework.partner_view import (
    AnswerConflict,
    NoteProblem,
    NotYours,
    OutcomeNeeded,
    UnknownAnswer,
    add_note,
    answer,
    deny,
    log_view,
    open_referral,
    record_view_disclosure,
    referrals_for,
)
from casework.plan import Goal, ItemKind, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import ServiceStatus, record_referral, tell_process
from casework.staff import Staff, load_staff
from casework.users import Role, add_user
from engine.db import Database
from engine.runtime import Engine
from tests.casework.conftest import CODES
from tests.conftest import TestClock
from tests.diagrams import chain, process

TODAY = date(2026, 1, 5)
# The process waits for the partner's answer, as the service coordination does
WAITS = process(
    "partner_wait",
    '<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="wait_answer">'
    '<bpmn:messageEventDefinition messageRef="msg_answer"/></bpmn:intermediateCatchEvent>'
    '<bpmn:userTask id="answered" name="Answered"/><bpmn:endEvent id="end"/>'
    + chain("start", "wait_answer", "answered", "end"),
    extra='<bpmn:message id="msg_answer" name="partnerAnswer"/>')


@dataclass
class World:
    health: int
    ngo: int
    cases: list[str]


@pytest.fixture
def world(db: Database, engine: Engine, clock: TestClock, keys: IdentityCodeKeys, staff: None) -> World:
    """Two partners, each with a partner account, and nurse's colleague at the health station."""
    engine.deploy({"partner_wait.bpmn": WAITS})
    with db.transaction() as s:
        health = add_partner(s, "Terveysasema Kuvitelma", PartnerKind.HEALTH_CARE, email="ta@example.invalid").id
        ngo = add_partner(s, "Kuvitteellinen työpaja ry", PartnerKind.NGO, email="paja@example.invalid").id
        for user_id, partner_id in (("hoitaja", health), ("toinen.hoitaja", health), ("paja", ngo)):
            add_user(s, user_id, user_id.title(), [Role.PARTNER], clock()).partner_id = partner_id
        add_user(s, "irrallinen", "Irrallinen", [Role.PARTNER], clock())  # a partner account linked to no partner
    return World(health, ngo, [])


def who(db: Database, user_id: str) -> Staff:
    with db.read() as s:
        found = load_staff(s, user_id)
    assert found is not None
    return found


def refer(db: Database, engine: Engine, clock: TestClock, keys: IdentityCodeKeys, world: World, *,
          partner: str = "health", consent: bool = True) -> tuple[str, str]:
    """A client's case (its process waiting for the answer) with a health check referred to `partner`;
    returns (case id, referral id)."""
    n = len(world.cases)
    case_id = engine.start("partner_wait", business_key=f"P-{n}")
    world.cases.append(case_id)
    partner_id = world.health if partner == "health" else world.ngo
    with db.transaction() as s:
        client = register_client(s, keys, name=f"Kuvitteellinen Asiakas {n}", identity_code=CODES[n], at=clock(),
                                 phone=f"040 000 000{n}", email=f"asiakas{n}@example.invalid")
        open_case(s, case_id, client.id, clock())
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
        plan = save_plan(s, case_id, PlanDraft(
            goals=[Goal("Terveys kuntoon", TODAY + timedelta(days=90), "aino", main=True)],
            services=[PlannedService(ServiceType.HEALTH_CHECK, "Terveysasema Kuvitelma", "Hoitaja",
                                     TODAY + timedelta(days=14), partner_id=partner_id),
                      PlannedService(ServiceType.WORK_TRIAL, "Työllisyyspalvelut", "Valmentaja",
                                     TODAY + timedelta(days=30), partner_id=None)]), by="aino", at=clock())
        item = next(i for i in plan.items if i.kind is ItemKind.SERVICE and i.partner_id == partner_id)
        given = record_consent(s, client.id, partner_id, "terveystarkastus", clock(), recorded_by="aino",
                               method=ConsentMethod.WRITTEN)
        row = record_referral(s, item, case_id, by="aino", consent_id=given.id, at=clock())
        if not consent:
            revoke_consent(s, given.id, clock(), by="aino")
        assert row.referral_id is not None
        return case_id, row.referral_id


@pytest.fixture
def referred(db: Database, engine: Engine, clock: TestClock, keys: IdentityCodeKeys,
             world: World) -> Callable[..., tuple[str, str]]:
    def make(partner: str = "health", consent: bool = True) -> tuple[str, str]:
        clock.advance(minutes=1)
        return refer(db, engine, clock, keys, world, partner=partner, consent=consent)

    return make


def test_a_partner_sees_only_its_own_referrals_with_consent(db: Database, clock: TestClock,
                                                            referred: Callable[..., tuple[str, str]]) -> None:
    mine, mine_rid = referred()
    referred(consent=False)  # to the health station, but the client revoked the consent
    other, other_rid = referred(partner="ngo")
    nurse, colleague, workshop = who(db, "hoitaja"), who(db, "toinen.hoitaja"), who(db, "paja")
    with db.read() as s:
        assert [(r.referral_id, r.client_name, r.service_type, r.status) for r in referrals_for(s, nurse, clock())] == [
            (mine_rid, "Kuvitteellinen Asiakas 0", "health_check", ServiceStatus.REQUESTED)]
        assert [r.referral_id for r in referrals_for(s, colleague, clock())] == [mine_rid]  # the same organisation
        assert [r.referral_id for r in referrals_for(s, workshop, clock())] == [other_rid]
        for outsider in ("irrallinen", "aino"):  # no partner linked; not a partner account
            assert referrals_for(s, who(db, outsider), clock()) == []
        with pytest.raises(NotYours) as refused:
            open_referral(s, workshop, mine_rid, clock())
        assert refused.value.case_id == mine
        with pytest.raises(NotYours):
            open_referral(s, nurse, other_rid, clock())
        with pytest.raises(NotFound):
            open_referral(s, nurse, "00000000-0000-0000-0000-000000000000", clock())


def test_the_referral_shows_the_contact_the_partners_items_and_nothing_else(
        db: Database, clock: TestClock, referred: Callable[..., tuple[str, str]]) -> None:
    case_id, rid = referred()
    with db.transaction() as s:
        s.add_all([CaseNote(case_id=case_id, author_id="aino", author_name="Aino Esimerkki", text="Jaettu verkostolle",
                            visibility=Visibility.NETWORK, created_at=clock()),
                   CaseNote(case_id=case_id, author_id="aino", author_name="Aino Esimerkki", text="Vain tiimille",
                            visibility=Visibility.CASE_TEAM, created_at=clock())])
    with db.read() as s:
        detail = open_referral(s, who(db, "hoitaja"), rid, clock())
    assert (detail.client.name, detail.client.phone, detail.client.email, detail.client.language) == (
        "Kuvitteellinen Asiakas 0", "040 000 0000", "asiakas0@example.invalid", "fi")
    assert [(i.service_type, i.due, i.status) for i in detail.items] == [
        ("health_check", TODAY + timedelta(days=14), ServiceStatus.REQUESTED)]  # not the work trial elsewhere
    assert [n.text for n in detail.notes] == ["Jaettu verkostolle"]
    assert detail.next_answers == (ServiceStatus.ACCEPTED, ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE)
    assert not hasattr(detail.client, "identity_code")


def test_revoking_the_consent_hides_the_referral(db: Database, clock: TestClock,
                                                 referred: Callable[..., tuple[str, str]]) -> None:
    _, rid = referred()
    nurse = who(db, "hoitaja")
    with db.transaction() as s:
        detail = open_referral(s, nurse, rid, clock())
        clock.advance(hours=1)
        revoke_consent(s, detail.consent_id, clock(), by="aino")
    clock.advance(minutes=1)
    with db.transaction() as s:
        assert referrals_for(s, nurse, clock()) == []
        with pytest.raises(NotYours):
            open_referral(s, nurse, rid, clock())
        with pytest.raises(NotYours):
            answer(s, nurse, rid, "accepted", None, clock())
        with pytest.raises(NotYours):
            add_note(s, nurse, rid, "Yritin soittaa", clock())


def test_answers_move_the_status_and_reach_the_waiting_process(db: Database, engine: Engine, clock: TestClock,
                                                               referred: Callable[..., tuple[str, str]]) -> None:
    case_id, rid = referred()
    nurse = who(db, "hoitaja")
    with db.transaction() as s:
        result = answer(s, nurse, rid, "accepted", None, clock(), expected="requested")
    assert tell_process(engine, result) is True
    [task] = engine.open_tasks(case_id)
    assert task.element_id == "answered"
    assert engine.case(case_id)["variables"]["partnerDecision"] == "accepted"

    with db.transaction() as s:
        # the colleague's form still shows "requested": a clear conflict, nothing recorded
        with pytest.raises(AnswerConflict, match="someone answered it meanwhile"):
            answer(s, who(db, "toinen.hoitaja"), rid, "refused", None, clock(), expected="requested")
        with pytest.raises(AnswerConflict, match="cannot come now"):
            answer(s, nurse, rid, "done", "Tehty", clock())
        with pytest.raises(UnknownAnswer):
            answer(s, nurse, rid, "maybe", None, clock())
    clock.advance(days=2)
    with db.transaction() as s:
        answer(s, nurse, rid, "started", None, clock(), expected="accepted")
    with db.transaction() as s:
        with pytest.raises(OutcomeNeeded):
            answer(s, nurse, rid, "done", "  ", clock(), expected="started")
    with db.transaction() as s:
        answer(s, nurse, rid, "done", "Terveystarkastus tehty, ei estettä työkokeilulle", clock(), expected="started")
    with db.read() as s:
        detail = open_referral(s, nurse, rid, clock())
        rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == AccessAction.UPDATE)).all()
    assert detail.status is ServiceStatus.DONE and detail.next_answers == ()
    assert detail.outcome_text == "Terveystarkastus tehty, ei estettä työkokeilulle"
    assert [(a.answer, a.answered_by) for a in detail.answers] == [
        (ServiceStatus.ACCEPTED, "Hoitaja"), (ServiceStatus.STARTED, "Hoitaja"), (ServiceStatus.DONE, "Hoitaja")]
    assert [(r.user_id, r.role, r.why) for r in rows] == [("hoitaja", "partner", Relationship.PARTNER.value)] * 3
    with db.read() as s:  # a closed referral stays on the list for a while, then leaves it
        assert [r.open for r in referrals_for(s, nurse, clock())] == [False]
        assert referrals_for(s, nurse, clock() + timedelta(days=31)) == []


def test_a_partners_note_goes_to_the_case_team_and_back_to_the_partner(
        db: Database, clock: TestClock, referred: Callable[..., tuple[str, str]]) -> None:
    case_id, rid = referred()
    nurse = who(db, "hoitaja")
    with db.transaction() as s:
        with pytest.raises(NoteProblem):
            add_note(s, nurse, rid, "   ", clock())
        with pytest.raises(NoteProblem):
            add_note(s, nurse, rid, "x" * 4001, clock())
        add_note(s, nurse, rid, "Asiakas ei vastannut puhelimeen, yritän uudelleen", clock())
    with db.read() as s:
        [note] = s.scalars(select(CaseNote).where(CaseNote.case_id == case_id)).all()
        assert (note.author_id, note.partner_id is not None, note.referral_id, note.visibility) == (
            "hoitaja", True, rid, Visibility.CASE_TEAM)
        assert [(n.text, n.own) for n in open_referral(s, who(db, "toinen.hoitaja"), rid, clock()).notes] == [
            ("Asiakas ei vastannut puhelimeen, yritän uudelleen", True)]


def test_reads_are_logged_as_the_partner_relationship_and_refusals_as_denied(
        db: Database, clock: TestClock, referred: Callable[..., tuple[str, str]]) -> None:
    mine, rid = referred()
    other, _ = referred(partner="ngo")
    nurse = who(db, "hoitaja")
    with db.transaction() as s:
        log_view(s, nurse, [mine], "partner's list of referrals", clock())
        deny(s, nurse, other, "partner's view of a referral", clock())
        detail = open_referral(s, nurse, rid, clock())
        assert record_view_disclosure(s, nurse, detail, clock()) is True
        assert record_view_disclosure(s, nurse, detail, clock()) is False  # once per consent
    with db.read() as s:
        rows = s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)).all()
        assert [(r.case_id, r.action, r.role) for r in rows] == [(mine, AccessAction.VIEW, "partner"),
                                                                 (other, AccessAction.DENIED, "partner")]
        [disclosed] = s.scalars(select(DisclosureLogEntry)).all()
        assert (disclosed.case_id, disclosed.partner_id, disclosed.consent_id) == (
            mine, detail.partner_id, detail.consent_id)
