"""An unexpected failure is a 500 that says nothing about the server, and its log line names no client data.

The probe: the database refuses to store a case whose variables hold a client's name and identity code
(fictitious, 900-999 series). Before, the 500 body and the log carried `[SQL: UPDATE "case" …]` with
`[parameters: …]` (the name, the code, the whole case state), and PostgreSQL's DETAIL quoted the row.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from casework.identity_code import fictitious_code
from casework.users import Role
from engine.models import Case
from engine.runtime import Engine
from tests.engine.runtime_support import single_job
from tests.webapp.support import app_client, basic
from webapp import create_app

CANARY_NAME = "Kanari Varoitusmerkki"
CANARY_CODE = fictitious_code(date(1952, 10, 13), 917)


def refuse_rows_containing(engine: Engine, marker: str) -> None:
    """Make the database refuse any case row whose variables contain `marker` (an integrity error)."""
    with engine.db.transaction() as session:
        if engine.db.is_postgres:  # its DETAIL quotes the failing row: the data reaches the error message
            session.execute(text(f"""ALTER TABLE "case" ADD CONSTRAINT refuse_canary
                                     CHECK (variables::text NOT LIKE '%{marker}%')"""))
        else:
            for event in ("INSERT", "UPDATE"):
                session.execute(text(f"""CREATE TRIGGER refuse_canary_{event.lower()} BEFORE {event} ON "case"
                                         WHEN NEW.variables LIKE '%{marker}%'
                                         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"""))


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, {"integ": Role.INTEGRATION})


def test_a_database_error_is_a_bare_500_and_the_log_keeps_the_data_out(client: FlaskClient, engine: Engine,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    refuse_rows_containing(engine, "Varoitusmerkki")
    caplog.set_level(logging.DEBUG)

    response = client.post("/engine-rest/process-definition/key/jobs/start", headers=basic("integ"), json={
        "businessKey": "REFERRAL-1",
        "variables": {"clientName": {"value": CANARY_NAME},
                      "referralNote": {"value": f"asiakkaan henkilötunnus {CANARY_CODE}"}}})

    assert response.status_code == 500
    body: Any = response.json
    assert set(body) == {"type", "message"} and body["type"] == "RestException"
    for leak in (CANARY_NAME, CANARY_CODE, "Varoitusmerkki", "SQL", "case", "parameters", "Traceback",
                 "Integrity", "sqlite", "psycopg", "constraint", "REFERRAL-1"):
        assert leak not in body["message"], body
    reference = body["message"].split("reference ")[1].split(")")[0]

    logged = caplog.text
    assert f"reference {reference}" in logged  # the operator can find the failure from the client's report
    assert "IntegrityError" in logged and "Traceback" in logged  # and see what failed where
    for leak in (CANARY_NAME, CANARY_CODE, "Varoitusmerkki", "parameters:", "Failing row", "REFERRAL-1"):
        assert leak not in logged
    with engine.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_outside_engine_rest_an_unexpected_error_is_a_bare_500_too(engine: Engine,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A corrupt row makes the overview fail with the stored value in the exception's message."""
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    with engine.db.transaction() as session:
        session.execute(text('UPDATE "case" SET status = :code WHERE id = :id'), {"code": CANARY_CODE, "id": case_id})
    caplog.set_level(logging.DEBUG)

    response = create_app({"ENGINE": engine}).test_client().get("/overview")

    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert CANARY_CODE not in page and "LookupError" not in page and "Traceback" not in page
    assert "LookupError" in caplog.text and "reference" in caplog.text
    assert CANARY_CODE not in caplog.text
