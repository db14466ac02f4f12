"""Incidents through /engine-rest: Camunda's incident list, and setting retries to repair a job or a timer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.runtime import Engine
from tests.engine.runtime_support import open_task_elements, single_job, timers_of
from tests.engine.test_runtime_timers import wait_then_decide
from tests.webapp.support import ROLES, app_client, basic
from tests.webapp.test_engine_rest import Api, assert_error
from webapp.engine_rest.variables import format_date


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, ROLES)


def put(client: FlaskClient, path: str, body: Any, user: str = "root") -> Any:
    return client.put(f"/engine-rest{path}", json=body, headers=basic(user))


def failed_external_task(api: Api, engine: Engine) -> tuple[str, str]:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs", "BK-1")
    [task] = api.fetch()
    response = api.post(f"/external-task/{task['id']}/failure", {"workerId": "w1", "errorMessage": "still down",
                                                                 "retries": 0})
    assert response.status_code == 204
    return case_id, task["id"]


def test_a_failed_external_task_is_listed_and_set_retries_lets_a_worker_finish_it(client: FlaskClient,
                                                                                   engine: Engine, clock) -> None:
    worker, admin = Api(client, "bot"), Api(client, "root")
    case_id, task_id = failed_external_task(worker, engine)

    listed = admin.get("/incident")
    assert listed.status_code == 200
    [incident] = listed.json
    definition = engine.case(case_id)
    assert incident == {
        "id": incident["id"], "processDefinitionId": f"jobs:1:{definition['definitionId']}",
        "processInstanceId": case_id, "executionId": task_id, "incidentTimestamp": format_date(clock.now),
        "incidentType": "failedExternalTask", "activityId": "work", "failedActivityId": "work",
        "causeIncidentId": incident["id"], "rootCauseIncidentId": incident["id"], "configuration": task_id,
        "tenantId": None, "incidentMessage": "still down", "jobDefinitionId": None, "annotation": None,
    }
    assert admin.get(f"/incident/{incident['id']}").json == incident
    assert admin.get("/incident/count").json == {"count": 1}
    assert worker.fetch() == []

    assert put(client, f"/external-task/{task_id}/retries", {"retries": 2}).status_code == 204

    assert admin.get("/incident").json == []
    assert admin.get("/incident/count").json == {"count": 0}
    [again] = worker.fetch()
    assert (again["id"], again["retries"], again["errorMessage"]) == (task_id, 2, "still down")
    assert worker.post(f"/external-task/{task_id}/complete", {"workerId": "w1"}).status_code == 204
    assert open_task_elements(engine, case_id) == ["after"]
    [repaired] = engine.incidents(open_only=False)
    assert (repaired.resolution, repaired.resolved_by) == ("retried", "root")


def test_retries_zero_parks_an_external_task_with_an_incident(client: FlaskClient, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    engine.start("jobs")
    worker = Api(client, "bot")
    [task] = worker.fetch(lockDuration=1)
    assert worker.post(f"/external-task/{task['id']}/unlock").status_code == 204
    assert put(client, f"/external-task/{task['id']}/retries", {"retries": 0}).status_code == 204
    assert worker.fetch() == []
    [incident] = Api(client, "root").get("/incident", incidentType="failedExternalTask").json
    assert incident["incidentMessage"] == "retries set to 0 by root"


def test_a_failed_timer_job_is_rearmed_through_job_retries(client: FlaskClient, engine: Engine, clock) -> None:
    engine.deploy({"decide.bpmn": wait_then_decide()})
    case_id = engine.start("decide", variables={"waitFor": "PT1H"})
    [timer] = timers_of(engine, case_id)
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 0
    admin = Api(client, "root")
    [incident] = admin.get("/incident", processInstanceId=case_id).json
    assert (incident["incidentType"], incident["configuration"], incident["activityId"]) == (
        "failedJob", timer.id, "pause")
    assert admin.get("/incident", incidentType="failedExternalTask").json == []
    assert admin.get("/incident", activityId="pause").json == [incident]
    assert admin.get("/incident", incidentId="x").json == []

    # the variable is fixed by hand, then the timer job gets retries and a due date
    engine.retry_incident(int(incident["id"]), "root", "n fixed", variables={"n": 5})
    engine.set_timer_retries(timer.id, 0, "root")  # parked again, so the REST call below re-arms it
    due = clock.now + timedelta(hours=1)
    assert put(client, f"/job/{timer.id}/retries", {"retries": 1, "dueDate": format_date(due)}).status_code == 204
    assert admin.get("/incident").json == []
    assert engine.fire_due_timers() == 0
    clock.advance(hours=1)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["big"]


def test_repairs_need_the_admin_role_and_name_unknown_ids(client: FlaskClient, engine: Engine) -> None:
    _, task_id = failed_external_task(Api(client, "bot"), engine)
    for user in ("bot", "integ"):
        assert_error(put(client, f"/external-task/{task_id}/retries", {"retries": 1}, user), 403,
                     "AuthorizationException")
    assert Api(client, "integ").get("/incident/count").json == {"count": 1}
    assert_error(Api(client, "bot").get("/incident"), 403, "AuthorizationException")

    assert_error(put(client, "/external-task/nope/retries", {"retries": 1}), 404, "InvalidRequestException",
                 "nope")
    assert_error(put(client, "/job/nope/retries", {"retries": 1}), 404, "InvalidRequestException", "nope")
    assert_error(put(client, f"/job/{task_id}/retries", {"retries": 1}), 404, "InvalidRequestException",
                 "external-task")
    assert_error(put(client, f"/external-task/{task_id}/retries", {"retries": -1}), 400,
                 "InvalidRequestException", "retries")
    assert_error(put(client, f"/external-task/{task_id}/retries", {}), 400, "InvalidRequestException", "retries")
    assert_error(Api(client, "root").get("/incident/123"), 404, "InvalidRequestException")
    assert_error(Api(client, "root").get("/incident", tenantIdIn="x"), 400, "InvalidRequestException")
