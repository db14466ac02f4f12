"""A referral through /engine-rest (message `referral`, or a start) never brings the identity code into the case.

The probe of issue 9: a referral's `personalId` reached the workflow's saved state, and stayed there after
the duplicate check cleared the variable. Now the REST layer has casework receive the referral first: the
case starts with `clientId`, and a code that fails its checksum is a 400 with no case started.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.client import Client, find_by_identity_code
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys
from casework.users import Role, add_user
from engine.models import Case
from engine.runtime import Engine
from polku.resources import collect_dir
from polku.settings import ROOT
from tests.webapp.support import basic, password_hash
from tests.webapp.test_engine_rest import assert_error
from webapp import create_app
from workers.builtins import load
from workers.runner import run_until_idle
from workers.services import Services

CODE = "131052-930V"  # fictitious, 900-999 series
NAME = "Kuvitteellinen Lähetetty"
REFERRAL = {"clientName": {"value": NAME}, "personalId": {"value": CODE}, "phone": {"value": "050 000 0009"},
            "email": {"value": "lahetetty@example.invalid"}, "language": {"value": "fi"},
            "referralReason": {"value": "Pitkä työttömyys"}, "referrer": {"value": "Työllisyyspalvelut"}}


@pytest.fixture
def keys() -> IdentityCodeKeys:
    return IdentityCodeKeys(secrets.token_urlsafe(32))


@pytest.fixture
def client(engine: Engine, keys: IdentityCodeKeys) -> FlaskClient:
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    with engine.db.transaction() as session:
        add_user(session, "integ", "Integration", [Role.INTEGRATION], engine.clock()).password_hash = password_hash()
    return create_app({"ENGINE": engine, "TESTING": True, "IDENTITY_CODE_KEYS": keys}).test_client()


def post(client: FlaskClient, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/engine-rest{path}", json=body, headers=basic("integ"))


def saved(engine: Engine) -> str:
    """Every case's row as stored: state, variables and waiting, as text."""
    with engine.db.transaction() as session:
        return " ".join(f"{c.state} {c.variables} {c.waiting}" for c in session.scalars(select(Case)))


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Case)) or 0,
                session.scalar(select(func.count()).select_from(Client)) or 0)


def test_a_referral_message_starts_a_case_that_knows_the_client_by_id_only(client: FlaskClient, engine: Engine,
                                                                          keys: IdentityCodeKeys) -> None:
    sent = post(client, "/message", {"messageName": "referral", "businessKey": "REF-1", "resultEnabled": True,
                                     "variablesInResultEnabled": True, "processVariables": REFERRAL})

    assert sent.status_code == 200, sent.json
    [result] = sent.json
    variables = result["variables"]
    assert "personalId" not in variables and "clientName" not in variables and "phone" not in variables
    assert variables["referralReason"]["value"] == "Pitkä työttömyys"
    with engine.db.transaction() as session:
        person = find_by_identity_code(session, keys, CODE)
        assert person is not None and person.name == NAME and variables["clientId"]["value"] == person.id

    run_until_idle(engine, load(), Services(engine.db, engine.clock, keys, None, engine))  # the duplicate check
    with engine.db.transaction() as session:
        record = session.get(ClientCase, result["processInstance"]["id"])
        assert record is not None and record.client_id == person.id
    stored = saved(engine)
    assert CODE not in stored and NAME not in stored and "050 000 0009" not in stored


def test_a_start_with_an_identity_code_is_received_the_same_way(client: FlaskClient, engine: Engine) -> None:
    started = post(client, "/process-definition/key/work_ability_support/start",
                   {"businessKey": "SELF-1", "variables": REFERRAL, "withVariablesInReturn": True})

    assert started.status_code == 200, started.json
    assert "clientId" in started.json["variables"] and "personalId" not in started.json["variables"]
    assert CODE not in saved(engine) and counts(engine) == (1, 1)


@pytest.mark.parametrize("route", ["message", "start"])
def test_a_code_that_fails_its_checksum_is_400_and_starts_nothing(client: FlaskClient, engine: Engine,
                                                                  route: str) -> None:
    bad = {**REFERRAL, "personalId": {"value": "131052-930W"}}
    if route == "message":
        response = post(client, "/message", {"messageName": "referral", "businessKey": "REF-2",
                                             "processVariables": bad})
    else:
        response = post(client, "/process-definition/key/work_ability_support/start", {"variables": bad})

    assert_error(response, 400, "InvalidRequestException", "check character")
    assert "131052-930W" not in response.get_data(as_text=True)
    assert counts(engine) == (0, 0)


def test_a_new_client_without_a_name_is_400(client: FlaskClient, engine: Engine) -> None:
    response = post(client, "/message", {"messageName": "referral", "businessKey": "REF-3",
                                         "processVariables": {"personalId": {"value": CODE}}})
    assert_error(response, 400, "InvalidRequestException", "name is required")
    assert counts(engine) == (0, 0)


def test_without_the_keys_a_code_is_refused_not_let_through(engine: Engine) -> None:
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    with engine.db.transaction() as session:
        add_user(session, "integ", "Integration", [Role.INTEGRATION], engine.clock()).password_hash = password_hash()
    bare = create_app({"ENGINE": engine, "TESTING": True}).test_client()

    response = post(bare, "/message", {"messageName": "referral", "businessKey": "REF-4",
                                       "processVariables": REFERRAL})
    assert_error(response, 500, "RestException", "no secret key")
    assert counts(engine) == (0, 0)
