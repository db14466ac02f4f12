"""A remote worker's result that cannot be stored is a failed attempt of the job, as for `polku worker`.

Before, POST /external-task/{id}/complete with a result the case could not take (a duration its next
timer cannot use) or this API refused (a NaN) answered an error and changed nothing: the lock ran out,
the worker ran its handler again and sent the same result, for ever, with no retry counted.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.users import Role
from engine.runtime import Engine
from tests.engine.runtime_support import incidents_of, jobs_of, open_task_elements
from tests.engine.test_runtime_jobs import error_boundary
from tests.webapp.support import PASSWORD, app_client, basic
from tests.webapp.test_engine_rest import Api, assert_error
from tests.workers.test_poison_jobs import job_then_timer


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, {"bot": Role.WORKER})


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def complete(api: Api, job_id: str, body: dict[str, Any]) -> Any:
    return api.post(f"/external-task/{job_id}/complete", body)


def attempts_until_incident(api: Api, engine: Engine, clock: Any, send: Any) -> list[Any]:
    """Fetch and send the same result until the job's retries run out; the responses, one per attempt."""
    responses = []
    for back_off in (10, 20, None):
        [job] = api.fetch()
        responses.append(send(job["id"]))
        if back_off is not None:
            assert api.fetch() == []  # backing off, not fetched again at once
            clock.advance(seconds=back_off)
    assert api.fetch() == []  # and after the last one, never again
    return responses


def test_a_duration_the_next_timer_cannot_use_is_400_and_a_counted_attempt(api: Api, engine: Engine, clock) -> None:
    engine.deploy({"prepared.bpmn": job_then_timer()})
    case_id = engine.start("prepared")
    body = {"workerId": "w1", "variables": {"waitFor": {"value": "garbage", "type": "String"}}}

    responses = attempts_until_incident(api, engine, clock, lambda job_id: complete(api, job_id, body))

    for response, left in zip(responses, ("2 retries left", "1 retry left", "no retries left"), strict=True):
        assert_error(response, 400, "InvalidRequestException", "counted as a failed attempt")
        assert left in response.json["message"] and "garbage" in response.json["message"]
    assert "an incident was opened" in responses[-1].json["message"]
    [row] = jobs_of(engine, case_id)
    [task] = api.get("/external-task", processInstanceId=case_id).json
    assert (task["retries"], row.retries) == (0, 0) and "garbage" in task["errorMessage"]
    [incident] = incidents_of(engine, case_id)
    assert (incident.element_id, incident.message) == ("work", row.error_message)
    assert engine.case(case_id)["variables"] == {} and open_task_elements(engine, case_id) == []


def test_a_nan_the_api_refuses_is_a_counted_attempt_too(api: Api, client: FlaskClient, engine: Engine, clock) -> None:
    """Python's json.dumps writes NaN, which is not JSON: the body is refused, but its worker can still be told."""
    engine.deploy({"prepared.bpmn": job_then_timer()})
    case_id = engine.start("prepared")

    def send(job_id: str) -> Any:
        raw = '{"workerId": "w1", "variables": {"ratio": {"value": NaN, "type": "Double"}}}'
        return client.post(f"/engine-rest/external-task/{job_id}/complete", data=raw,
                           content_type="application/json", headers=basic("bot", PASSWORD))

    responses = attempts_until_incident(api, engine, clock, send)

    for response in responses:
        assert_error(response, 400, "InvalidRequestException", "NaN")
        assert "counted as a failed attempt" in response.json["message"]
    [row] = jobs_of(engine, case_id)
    assert row.retries == 0 and row.error_message.startswith("the result was refused: NaN")
    assert len(incidents_of(engine, case_id)) == 1


def test_a_refused_body_is_not_charged_to_a_job_its_sender_does_not_hold(api: Api, client: FlaskClient,
                                                                         engine: Engine) -> None:
    engine.deploy({"prepared.bpmn": job_then_timer()})
    case_id = engine.start("prepared")
    [job] = api.fetch()
    for raw in ('{"workerId": "w2", "variables": {"x": {"value": NaN}}}', '{"variables": {"x": {"value": NaN}}}',
                '{"workerId": "w1", "variables": {"x": {"value": NaN}}'):  # another worker; none; not even JSON
        response = client.post(f"/engine-rest/external-task/{job['id']}/complete", data=raw,
                               content_type="application/json", headers=basic("bot", PASSWORD))
        assert response.status_code == 400 and "counted" not in response.json["message"]
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.retries, row.error_message) == ("w1", None, None)


def test_a_process_that_fails_on_its_own_is_500_and_a_counted_attempt(api: Api, engine: Engine) -> None:
    """No boundary event catches the error: not the request's fault (Camunda's 500), but still an attempt."""
    engine.deploy({"consent.bpmn": error_boundary(with_boundary=False)})
    case_id = engine.start("consent")
    [job] = api.fetch(topic="consent")

    response = api.post(f"/external-task/{job['id']}/bpmnError", {"workerId": "w1", "errorCode": "OTHER"})

    assert_error(response, 500, "ProcessEngineException", "OTHER")
    assert "counted as a failed attempt: 2 retries left" in response.json["message"]
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.retries) == (None, 2) and "OTHER" in row.error_message
