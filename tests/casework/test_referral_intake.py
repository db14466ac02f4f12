"""A referral from a form: checked field by field, then received into the client record and started as a case.

The process is bpmn/ with the real job handlers: a new client's referral becomes a case waiting for the
coordinator's needs mapping; a referral of a client with an open case starts no second case, and the process
tells that case's case manager.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from casework.access_log import AccessAction, AccessLogEntry
from casework.client import Client, find_by_identity_code
from casework.client_case import CaseStatus, ClientCase
from casework.referral import LabourMarketStatus, ReferralSource
from casework.referral_intake import (
    FieldProblem,
    Problem,
    Referral,
    ReferralProblems,
    ReferredBy,
    check,
    identity_code_problem,
    receive,
    referral_from,
)
from engine.models import Case
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.scenarios.conftest import BROAD, World, make_world

CODE = "131052-930V"  # fictitious (900-999 series), checksum-valid
STAFF_REFERRAL = Referral(client_name="Kuvitteellinen Lähetetty", identity_code=CODE, phone="050 000 0009",
                          email="lahetetty@example.invalid", language="fi", municipality="Esimerkkilä",
                          reason="Pitkä työttömyys ja uupumus", consent=True, urgency="urgent",
                          referrer_organisation="Työllisyyspalvelut", referrer_contact="Keksitty Ohjaaja, 040 000 0000",
                          existing_services=("kela", "employment_services"), source="employment_services",
                          labour_market_status="job_seeker", unemployed_months="14")
SELF_REFERRAL = Referral(client_name="Itse Hakeutuja", identity_code="010190-900P", phone="",
                         email="itse@example.invalid", language="sv", municipality="Esimerkkilä",
                         reason="Haluan apua työnhakuun", consent=True, self_referral=True)
BY = ReferredBy("koordinaattori.anna", "coordinator")


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    return make_world(engine, clock)


def problems(referral: Referral) -> dict[str, Problem]:
    return {p.field: p.problem for p in check(referral)}


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.read() as session:
        return (session.scalar(select(func.count()).select_from(Case)) or 0,
                session.scalar(select(func.count()).select_from(Client)) or 0)


# -- checking ------------------------------------------------------------------------------------------------------
def test_a_complete_referral_has_no_problems() -> None:
    assert check(STAFF_REFERRAL) == []
    assert check(SELF_REFERRAL) == []


@pytest.mark.parametrize(("code", "problem"), [
    ("", Problem.REQUIRED),
    ("131052-930", Problem.IDENTITY_CODE_LENGTH),
    ("131052-930W", Problem.IDENTITY_CODE_CHECK),  # one character mistyped
    ("311352-930V", Problem.INVALID),  # no 31st of the 13th month
    ("131052Q930V", Problem.INVALID),  # no such century sign
    (" 131052-930v ", None),  # spaces and case do not matter
])
def test_the_identity_code_is_checked_and_a_typing_error_is_named_as_such(code: str, problem: Problem | None) -> None:
    assert identity_code_problem(code) is problem


def test_each_field_gets_its_own_problem() -> None:
    bad = replace(STAFF_REFERRAL, client_name=" ", identity_code="131052-930W", language="de", municipality="12345",
                  reason="", consent=False, urgency="whenever", referrer_organisation="", source="",
                  existing_services=("astrology",), labour_market_status="retired", unemployed_months="601",
                  phone="call me", email="not-an-address")
    assert problems(bad) == {
        "client_name": Problem.REQUIRED, "identity_code": Problem.IDENTITY_CODE_CHECK, "language": Problem.INVALID,
        "municipality": Problem.INVALID, "reason": Problem.REQUIRED, "consent": Problem.NO_CONSENT,
        "urgency": Problem.INVALID, "referrer_organisation": Problem.REQUIRED, "source": Problem.REQUIRED,
        "existing_services": Problem.INVALID, "labour_market_status": Problem.INVALID,
        "unemployed_months": Problem.INVALID, "phone": Problem.INVALID, "email": Problem.INVALID}


def test_texts_have_limits_and_a_self_referral_is_shorter() -> None:
    assert check(replace(STAFF_REFERRAL, reason="x" * 4001)) == [FieldProblem("reason", Problem.TOO_LONG, 4000)]
    assert check(replace(STAFF_REFERRAL, reason="x" * 1001)) == []
    assert check(replace(SELF_REFERRAL, reason="x" * 1001)) == [FieldProblem("reason", Problem.TOO_LONG, 1000)]


def test_a_self_referral_needs_a_phone_or_an_email_but_no_referrer() -> None:
    assert problems(replace(SELF_REFERRAL, email="", phone="")) == {"phone": Problem.NO_CONTACT}
    assert check(replace(SELF_REFERRAL, email="", phone="+358 40 000 0000")) == []


def test_a_form_mapping_becomes_a_referral() -> None:
    form = {"client_name": "A B", "consent": "y", "existing_services": ["kela"], "urgency": None}
    referral = referral_from(form)
    assert (referral.client_name, referral.consent, referral.existing_services, referral.urgency) == (
        "A B", True, ("kela",), "normal")


def test_a_referral_with_problems_stores_nothing(world: World) -> None:
    with pytest.raises(ReferralProblems) as raised:
        receive(world.engine, world.services.keys, replace(STAFF_REFERRAL, identity_code="131052-930W"), BY)
    assert raised.value.problems == [FieldProblem("identity_code", Problem.IDENTITY_CODE_CHECK)]
    assert counts(world.engine) == (0, 0)


# -- routing ----------------------------------------------------------------------------------------------------
def test_a_new_clients_referral_becomes_a_case_waiting_for_the_coordinator(world: World) -> None:
    intake = receive(world.engine, world.services.keys, STAFF_REFERRAL, BY)
    world.work()

    assert re.fullmatch(r"OHJ-2026-[A-Z2-9]{6}", intake.business_key)
    assert not intake.to_open_case
    case = world.engine.case(intake.case_id)
    assert case["businessKey"] == intake.business_key and case["status"] == "active"
    assert world.open_tasks(intake.case_id) == ["needs_mapping"]  # the coordinators' task
    [task] = [t for t in world.engine.open_tasks(intake.case_id) if t.element_id == "needs_mapping"]
    assert task.candidate_groups == ["coordinators"]
    record = world.client_case_of(intake.case_id)
    assert (record.status, record.referrer, record.referral_source, record.labour_market_status,
            record.unemployed_months, record.municipality) == (
        CaseStatus.OPEN, "Työllisyyspalvelut", ReferralSource.EMPLOYMENT_SERVICES, LabourMarketStatus.JOB_SEEKER, 14,
        "Esimerkkilä")
    variables = case["variables"]
    assert variables["urgency"] == "urgent" and variables["servicesAtReferral"] == ["employment_services", "kela"]
    assert variables["referralConsent"] is True and variables["referrerContact"].startswith("Keksitty Ohjaaja")
    with world.engine.db.read() as session:  # the identifying fields are in the client record, not in the case
        client = find_by_identity_code(session, world.services.keys, CODE)
        assert client is not None and client.id == intake.client_id and client.phone == "050 000 0009"
        saved = " ".join(f"{c.state} {c.variables}" for c in session.scalars(select(Case)))
        [log] = session.scalars(select(AccessLogEntry)).all()
    for secret in (CODE, "Lähetetty", "050 000 0009", "lahetetty@example.invalid"):
        assert secret not in saved
    assert (log.user_id, log.role, log.client_id, log.case_id, log.action) == (
        "koordinaattori.anna", "coordinator", intake.client_id, intake.case_id, AccessAction.CREATE)


def test_a_referral_of_a_client_with_an_open_case_goes_to_its_case_manager(world: World) -> None:
    first = receive(world.engine, world.services.keys, STAFF_REFERRAL, BY)
    world.work()
    world.task(first.case_id, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(first.case_id, "confirm_decision", {"decision": "coordinator", "caseManager": "sosiaalityo.pekka"})

    second = receive(world.engine, world.services.keys, replace(STAFF_REFERRAL, reason="Uusi lähete"), BY)
    world.work()

    assert second.to_open_case and second.client_id == first.client_id
    assert world.status(second.case_id) == "completed"  # routed by the process, not a second case
    assert world.mail(second.case_id) == ["staff:sosiaalityo.pekka"]  # the case manager is told
    with world.engine.db.read() as session:
        records = session.scalars(select(ClientCase).where(ClientCase.client_id == first.client_id)).all()
    assert [(r.case_id, r.status) for r in records] == [(first.case_id, CaseStatus.OPEN)]


def test_a_self_referral_waits_for_a_coordinator_to_identify_the_person(world: World) -> None:
    intake = receive(world.engine, world.services.keys, SELF_REFERRAL)
    world.work()

    assert world.open_tasks(intake.case_id) == ["identify_self_referred"]
    variables = world.engine.case(intake.case_id)["variables"]
    assert variables["referralSource"] == "self" and variables["language"] == "sv"
    assert "referrer" not in variables and "email" not in variables
    world.task(intake.case_id, "identify_self_referred", {"identityVerified": True}, actor="koordinaattori.anna")
    assert world.open_tasks(intake.case_id) == ["needs_mapping"]
    assert world.client_case_of(intake.case_id).referral_source is ReferralSource.SELF
    with world.engine.db.read() as session:  # the person's own act: no staff member processed anything
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 0


def test_a_self_referral_of_a_client_with_an_open_case_is_routed_after_identification(world: World) -> None:
    first = receive(world.engine, world.services.keys, replace(STAFF_REFERRAL, identity_code="010190-900P"), BY)
    world.work()
    again = receive(world.engine, world.services.keys, replace(SELF_REFERRAL, municipality="Muualla"))
    world.work()
    assert again.to_open_case
    with world.engine.db.read() as session:  # nobody has checked who sent it: the client record stays as it was
        assert session.get(Client, first.client_id).municipality == "Esimerkkilä"  # type: ignore[union-attr]
    world.task(again.case_id, "identify_self_referred", {"identityVerified": True}, actor="koordinaattori.anna")
    assert world.status(again.case_id) == "completed"
    assert world.client_case_of(first.case_id).status is CaseStatus.OPEN
