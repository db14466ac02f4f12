"""Receiving a referral: the client record gets the identity code (sealed), the name and the contact details;
the variables for the process get `clientId` instead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from casework.client import Client, Language, find_by_identity_code, identity_code_of
from casework.client_case import open_case
from casework.errors import CaseworkError
from casework.identity_code import IdentityCodeKeys, InvalidIdentityCode
from casework.referral import (
    InvalidReferral,
    LabourMarketStatus,
    ReferralFacts,
    ReferralSource,
    carries_identity_code,
    receive_referral,
    referral_facts,
)
from engine.db import Database
from engine.runtime import Engine
from tests.casework.conftest import CASE_PROCESS, CODES
from tests.conftest import TestClock
from tests.scenarios.conftest import make_world

REFERRAL = {"clientName": "Testi Aaltonen", "personalId": CODES[0], "phone": "050 000 0001",
            "email": "testi@example.invalid", "municipality": "Esimerkkilä", "language": "sv",
            "referralReason": "Pitkä työttömyys", "referralConsent": True, "urgency": "normal",
            "referrer": "Työllisyyspalvelut"}


def receive(db: Database, keys: IdentityCodeKeys, clock: TestClock, **changes: Any) -> dict[str, Any]:
    with db.transaction() as session:
        return receive_referral(session, keys, {**REFERRAL, **changes}, clock())


def clients(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Client)) or 0


def test_a_new_client_is_registered_and_the_process_gets_only_their_id(db: Database, keys: IdentityCodeKeys,
                                                                        clock: TestClock) -> None:
    variables = receive(db, keys, clock)

    assert variables == {"clientId": variables["clientId"], "language": "sv", "referralReason": "Pitkä työttömyys",
                         "referralConsent": True, "urgency": "normal", "referrer": "Työllisyyspalvelut"}
    with db.transaction() as session:
        client = session.get(Client, variables["clientId"])
        assert client is not None
        assert (client.name, client.phone, client.email, client.municipality, client.language) == (
            "Testi Aaltonen", "050 000 0001", "testi@example.invalid", "Esimerkkilä", Language.SV)
        assert identity_code_of(keys, client) == CODES[0]
        assert CODES[0].encode() not in client.identity_code_sealed


def test_a_known_client_is_found_by_the_code_and_their_record_is_kept(db: Database, keys: IdentityCodeKeys,
                                                                       clock: TestClock) -> None:
    first = receive(db, keys, clock)
    again = receive(db, keys, clock, personalId=CODES[0].lower().replace("-", " -"), clientName="Toinen Nimi",
                    phone=None, email=None)

    assert again["clientId"] == first["clientId"] and clients(db) == 1
    with db.transaction() as session:
        client = find_by_identity_code(session, keys, CODES[0])
        assert client is not None and (client.name, client.phone) == ("Testi Aaltonen", "050 000 0001")


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"personalId": "010190-900A"}, InvalidIdentityCode, "check character"),
    ({"personalId": ""}, InvalidIdentityCode, "no personal identity code"),
    ({"personalId": None}, InvalidIdentityCode, "no personal identity code"),
    ({"clientName": "  "}, CaseworkError, "name is required"),
    ({"clientId": "someone-else"}, CaseworkError, "not both"),
])
def test_a_referral_that_cannot_be_received_registers_nobody(db: Database, keys: IdentityCodeKeys, clock: TestClock,
                                                             changes: dict[str, Any], error: type[Exception],
                                                             message: str) -> None:
    with pytest.raises(error, match=message):
        receive(db, keys, clock, **changes)
    assert clients(db) == 0


def test_only_variables_with_an_identity_code_need_receiving() -> None:
    assert carries_identity_code(REFERRAL) and carries_identity_code({"personalId": None})
    assert not carries_identity_code({"clientId": "c-1", "clientName": "Testi Aaltonen"})


# -- the typed facts the evaluation counts ------------------------------------------------------------------
FACTS = {"referralSource": "health_station", "labourMarketStatus": "job_seeker", "unemployedMonths": "14"}


def test_the_referral_source_and_labour_market_status_are_kept_typed_and_go_on_the_case_record(
        db: Database, engine: Engine, keys: IdentityCodeKeys, clock: TestClock) -> None:
    variables = receive(db, keys, clock, **FACTS)
    assert {k: variables[k] for k in FACTS} == {"referralSource": "health_station",
                                                "labourMarketStatus": "job_seeker", "unemployedMonths": 14}
    assert "municipality" not in variables  # identifying with the rest: it stays in the client record
    engine.deploy({"casework_case.bpmn": CASE_PROCESS})
    case_id = engine.start("casework_case", business_key="REF-1", variables=variables)
    with db.transaction() as session:
        record = open_case(session, case_id, variables["clientId"], clock(), referrer="Terveysasema",
                           referral=variables)
        assert (record.referral_source, record.labour_market_status, record.unemployed_months,
                record.municipality) == (ReferralSource.HEALTH_STATION, LabourMarketStatus.JOB_SEEKER, 14,
                                         "Esimerkkilä")


def test_a_referral_without_the_typed_facts_is_received_and_they_stay_unrecorded(
        db: Database, keys: IdentityCodeKeys, clock: TestClock) -> None:
    variables = receive(db, keys, clock, referralSource="", unemployedMonths=None)
    assert not {"referralSource", "labourMarketStatus", "unemployedMonths"} & set(variables)
    assert referral_facts(variables) == ReferralFacts()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"referralSource": "tax_office"}, "referralSource", "not one of employment_services, social_work"),
    ({"labourMarketStatus": "retired"}, "labourMarketStatus", "not one of job_seeker, not_job_seeker"),
    ({"unemployedMonths": "a year"}, "unemployedMonths", "not a whole number"),
    ({"unemployedMonths": -3}, "unemployedMonths", "not a whole number"),
    ({"unemployedMonths": True}, "unemployedMonths", "not a whole number"),
    ({"unemployedMonths": 601}, "unemployedMonths", "more than 600"),
    ({"municipality": "Iisalmi; DROP"}, "municipality", "not a municipality's name"),
    ({"municipality": "x" * 101}, "municipality", "not a municipality's name"),
])
def test_a_typed_fact_that_is_not_valid_names_its_field_and_registers_nobody(
        db: Database, keys: IdentityCodeKeys, clock: TestClock, changes: dict[str, Any], field: str,
        message: str) -> None:
    with pytest.raises(InvalidReferral, match=message) as refused:
        receive(db, keys, clock, **changes)
    assert refused.value.field == field and clients(db) == 0


def test_the_typed_facts_are_read_in_the_forms_the_web_and_rest_clients_send(
        db: Database, keys: IdentityCodeKeys, clock: TestClock) -> None:
    variables = receive(db, keys, clock, referralSource=" Employment-Services ", labourMarketStatus="NOT_JOB_SEEKER",
                        unemployedMonths=0, municipality="  Pieksämäki ")
    assert (variables["referralSource"], variables["labourMarketStatus"], variables["unemployedMonths"]) == (
        "employment_services", "not_job_seeker", 0)
    with db.transaction() as session:
        client = session.get(Client, variables["clientId"])
        assert client is not None and client.municipality == "Pieksämäki"


def test_a_known_client_who_moved_gets_the_new_municipality(db: Database, keys: IdentityCodeKeys,
                                                            clock: TestClock) -> None:
    first = receive(db, keys, clock)
    receive(db, keys, clock, municipality="Iisalmi", clientName="Toinen Nimi")
    receive(db, keys, clock, municipality=None)  # a referral that does not say keeps what is known
    with db.transaction() as session:
        client = session.get(Client, first["clientId"])
        assert client is not None and (client.name, client.municipality) == ("Testi Aaltonen", "Iisalmi")


def test_a_referral_through_the_process_records_its_facts_on_the_case(engine: Engine, clock: TestClock) -> None:
    world = make_world(engine, clock)
    case_id = world.refer("Testi Aaltonen", municipality="Iisalmi", referralSource="employment_services",
                          labourMarketStatus="job_seeker", unemployedMonths=26)
    record = world.client_case_of(case_id)
    assert (record.referral_source, record.labour_market_status, record.unemployed_months, record.municipality,
            record.referrer) == (ReferralSource.EMPLOYMENT_SERVICES, LabourMarketStatus.JOB_SEEKER, 26, "Iisalmi",
                                 "Työllisyyspalvelut")
