"""The Camunda 7-compatible REST API (/engine-rest) through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.users import ApiToken, StaffUser, issue_token, revoke_token
from engine.models import HistoryEvent
from engine.runtime import Engine
from tests.engine.runtime_support import incidents_of, jobs_of, open_task_elements, race, single_job
from tests.engine.test_runtime_jobs import error_boundary
from tests.engine.test_runtime_messages import started_by_message, waits_for_reply
from tests.webapp.support import app_client, basic


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine)


class Api:
    """The client acting as one account."""

    def __init__(self, client: FlaskClient, user: str = "bot") -> None:
        self.client, self.headers = client, basic(user)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(f"/engine-rest{path}", json=body, headers=self.headers, **kw)

    def get(self, path: str, **query: Any) -> Any:
        return self.client.get(f"/engine-rest{path}", query_string=query, headers=self.headers)

    def fetch(self, worker: str = "w1", topic: str = "work", **options: Any) -> list[dict[str, Any]]:
        topic_options = {k: options.pop(k) for k in ("variables", "businessKey", "processDefinitionKey")
                         if k in options}
        body = {"workerId": worker, "maxTasks": options.pop("maxTasks", 10), "usePriority": True,
                "topics": [{"topicName": topic, "lockDuration": options.pop("lockDuration", 10_000),
                            **topic_options}], **options}
        response = self.post("/external-task/fetchAndLock", body)
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def assert_error(response: Any, status: int, kind: str, text: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["type"] == kind, response.json
    assert text in response.json["message"], response.json


# -- authentication and roles --------------------------------------------------------------------
def test_missing_or_wrong_credentials_are_401_with_a_challenge(client: FlaskClient, engine: Engine) -> None:
    for headers in ({}, basic("bot", "wrong password!"), basic("ghost"), {"Authorization": "Basic !!!"},
                    {"Authorization": "Bearer nope"}, {"Authorization": "Digest abc"}):
        response = client.get("/engine-rest/external-task", headers=headers)
        assert_error(response, 401, "AuthenticationException")
        assert "Basic" in response.headers["WWW-Authenticate"]
    assert client.get("/engine-rest/external-task", headers=basic("bot")).status_code == 200

    with engine.db.transaction() as session:
        session.get(StaffUser, "bot").active = False
    assert client.get("/engine-rest/external-task", headers=basic("bot")).status_code == 401


def test_bearer_tokens_work_until_revoked(client: FlaskClient, engine: Engine) -> None:
    with engine.db.transaction() as session:
        row, token = issue_token(session, "bot", engine.clock(), "host-1")
        token_id = row.id
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/engine-rest/external-task", headers=bearer).status_code == 200
    with engine.db.transaction() as session:
        stored = session.get(ApiToken, token_id)
        assert stored.token_hash != token and token not in stored.token_hash
        assert stored.last_used_at == engine.clock()
        revoke_token(session, token_id, engine.clock())
    assert_error(client.get("/engine-rest/external-task", headers=bearer), 401, "AuthenticationException")


def test_roles_decide_which_endpoints_a_caller_may_use(client: FlaskClient, engine: Engine) -> None:
    engine.deploy({"inquiry.bpmn": waits_for_reply()})
    start = {"businessKey": "BK-1"}
    worker, integration, admin, clerk = (Api(client, u) for u in ("bot", "integ", "root", "clerk"))

    assert worker.get("/external-task").status_code == 200
    forbidden = worker.post("/process-definition/key/inquiry/start", start)
    assert_error(forbidden, 403, "AuthorizationException", "bot")
    assert forbidden.json["userId"] == "bot"
    assert worker.get("/task").status_code == 403
    assert worker.post("/message", {"messageName": "reply"}).status_code == 403

    started = integration.post("/process-definition/key/inquiry/start", start)
    assert started.status_code == 200
    assert integration.get(f"/process-instance/{started.json['id']}").status_code == 200
    assert integration.get("/task").status_code == 200
    assert integration.get("/external-task").status_code == 200
    assert integration.post("/message", {"messageName": "reply", "businessKey": "BK-1"}).status_code == 204

    assert admin.post("/process-definition/key/inquiry/start", start).status_code == 200
    assert clerk.get("/external-task").status_code == 403


# -- fetch and lock --------------------------------------------------------------------------------
def test_fetch_and_lock_returns_the_requested_variables_typed(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    variables = {"n": 1, "big": 2**40, "ratio": 0.5, "ok": True, "name": "Aino", "doc": {"a": [1, 2]}, "none": None}
    case_id = engine.start("jobs", "BK-7", variables)
    definition = engine.case(case_id)["definitionId"]

    [job] = api.fetch(variables=["n", "big", "ratio", "ok", "doc", "none", "missing"], lockDuration=60_000)

    assert job["variables"] == {
        "n": {"type": "Integer", "value": 1, "valueInfo": {}}, "big": {"type": "Long", "value": 2**40, "valueInfo": {}},
        "ratio": {"type": "Double", "value": 0.5, "valueInfo": {}}, "ok": {"type": "Boolean", "value": True,
                                                                          "valueInfo": {}},
        "doc": {"type": "Json", "value": '{"a": [1, 2]}', "valueInfo": {}},
        "none": {"type": "Null", "value": None, "valueInfo": {}},
    }
    assert {k: job[k] for k in ("activityId", "topicName", "workerId", "businessKey", "processInstanceId",
                                "processDefinitionKey", "processDefinitionId", "retries", "priority",
                                "errorMessage", "errorDetails", "lockExpirationTime")} == {
        "activityId": "work", "topicName": "work", "workerId": "w1", "businessKey": "BK-7",
        "processInstanceId": case_id, "processDefinitionKey": "jobs", "processDefinitionId": f"jobs:1:{definition}",
        "retries": None, "priority": 0, "errorMessage": None, "errorDetails": None,
        "lockExpirationTime": "2026-01-05T09:01:00.000+0000"}
    assert job["activityInstanceId"].startswith("work:") and job["executionId"] and job["id"]
    assert api.fetch(worker="w2") == []  # locked to w1

    engine.start("jobs", "BK-8", {"n": 2, "other": "x"})
    [all_vars] = api.fetch(variables=None, businessKey="BK-8", processDefinitionKey="jobs")
    assert set(all_vars["variables"]) == {"n", "other"}


def test_fetch_and_lock_accepts_null_for_every_optional_field(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    engine.start("jobs")
    body = {"workerId": "w1", "maxTasks": 5, "usePriority": None, "asyncResponseTimeout": None, "sorting": None,
            "topics": [{"topicName": "work", "lockDuration": 1000, "variables": None, "processDefinitionKey": None,
                        "businessKey": None, "processVariables": None, "tenantIdIn": None,
                        "includeExtensionProperties": True, "deserializeValues": True}]}
    response = api.post("/external-task/fetchAndLock", body)
    assert response.status_code == 200 and len(response.json) == 1
    assert api.post("/external-task/fetchAndLock", {**body, "topics": None}).json == []


def test_long_polling_answers_as_soon_as_a_job_appears(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    started: list[str] = []
    starter = threading.Timer(0.5, lambda: started.append(engine.start("jobs", "late")))
    begin = time.monotonic()
    starter.start()
    try:
        jobs = api.fetch(asyncResponseTimeout=5000)
    finally:
        starter.join()
    elapsed = time.monotonic() - begin
    assert [j["processInstanceId"] for j in jobs] == started
    assert 0.4 <= elapsed < 4.0, elapsed


def test_long_polling_answers_empty_at_the_timeout(api: Api, engine: Engine) -> None:
    begin = time.monotonic()
    assert api.fetch(asyncResponseTimeout=600) == []
    assert 0.55 <= time.monotonic() - begin < 5.0


# -- reporting back ----------------------------------------------------------------------------------
def test_complete_with_typed_variables_advances_the_case(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = api.fetch()
    variables = {"amount": {"value": "42", "type": "Long"}, "ok": {"value": "true", "type": "Boolean"},
                 "doc": {"value": '{"k": [1]}', "type": "Json", "valueInfo": {}},
                 "when": {"value": "2026-01-05T10:00:00.000+0200", "type": "Date"},
                 "ratio": {"value": 1, "type": "Double"}, "gone": {"value": None, "type": "Null"},
                 "plain": {"value": "x"}, "label": {"value": "y", "type": "String"}}

    response = api.post(f"/external-task/{job['id']}/complete",
                        {"workerId": "w1", "variables": variables, "localVariables": {"tmp": {"value": 1}}})

    assert response.status_code == 204, response.json
    assert open_task_elements(engine, case_id) == ["after"]
    assert engine.case(case_id)["variables"] == {"amount": 42, "ok": True, "doc": {"k": [1]},
                                                 "when": "2026-01-05T08:00:00+00:00", "ratio": 1.0, "gone": None,
                                                 "plain": "x", "label": "y"}


def completions(engine: Engine, case_id: str) -> int:
    with engine.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(HistoryEvent).where(
            HistoryEvent.case_id == case_id, HistoryEvent.element_id == "work", HistoryEvent.ended_at.is_not(None)))


def test_a_second_completion_is_404_and_never_advances_the_case_twice(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = api.fetch()
    url = f"/external-task/{job['id']}/complete"
    assert api.post(url, {"workerId": "w1", "variables": {"n": {"value": 1}}}).status_code == 204
    version = engine.case(case_id)

    assert_error(api.post(url, {"workerId": "w1", "variables": {"n": {"value": 2}}}), 404,
                 "InvalidRequestException", job["id"])
    assert engine.case(case_id) == version
    assert completions(engine, case_id) == 1


def test_racing_completions_advance_the_case_once(client: FlaskClient, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = Api(client).fetch()
    app = client.application

    def complete(n: int) -> int:
        own = Api(app.test_client())  # one client per thread
        return own.post(f"/external-task/{job['id']}/complete", {"workerId": "w1", "variables": {"n": {"value": n}}}
                        ).status_code

    assert sorted(race(lambda: complete(1), lambda: complete(2))) == [204, 404]
    assert completions(engine, case_id) == 1
    assert open_task_elements(engine, case_id) == ["after"]


def test_completion_by_another_worker_or_after_the_lock_was_lost_is_400(api: Api, engine: Engine, clock) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = api.fetch(lockDuration=1000)
    url = f"/external-task/{job['id']}/complete"
    assert_error(api.post(url, {"workerId": "intruder"}), 400, "BadUserRequestException", "intruder")

    clock.advance(seconds=2)
    [again] = api.fetch(worker="w2")
    assert again["id"] == job["id"]
    assert_error(api.post(url, {"workerId": "w1", "variables": {"by": {"value": "w1"}}}), 400,
                 "BadUserRequestException", "w1")
    assert api.post(url, {"workerId": "w2", "variables": {"by": {"value": "w2"}}}).status_code == 204
    assert engine.case(case_id)["variables"] == {"by": "w2"}
    assert completions(engine, case_id) == 1
    assert_error(api.post("/external-task/no-such-id/complete", {"workerId": "w1"}), 404, "InvalidRequestException")


def test_failure_counts_retries_and_at_zero_opens_an_incident(api: Api, engine: Engine, clock) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = api.fetch()
    url = f"/external-task/{job['id']}/failure"

    response = api.post(url, {"workerId": "w1", "errorMessage": "smtp down", "errorDetails": "421",
                              "retries": 2, "retryTimeout": 5000})
    assert response.status_code == 204
    assert api.fetch() == []  # waiting out the retry timeout
    clock.advance(seconds=5)
    [retry] = api.fetch()
    assert (retry["retries"], retry["errorMessage"], retry["errorDetails"]) == (2, "smtp down", "421")

    assert api.post(url, {"workerId": "w1", "errorMessage": "still down", "retries": 0,
                          "retryTimeout": 0}).status_code == 204
    [incident] = incidents_of(engine, case_id)
    assert (incident.kind, incident.message) == ("failedExternalTask", "still down")
    assert api.fetch() == []
    assert open_task_elements(engine, case_id) == []
    assert_error(api.post(url, {"workerId": "w1", "retries": -1}), 400, "InvalidRequestException", "retries")


def test_bpmn_error_is_caught_by_the_boundary_event(api: Api, engine: Engine) -> None:
    engine.deploy({"consent.bpmn": error_boundary()})
    case_id = engine.start("consent")
    [job] = api.fetch(topic="consent")

    response = api.post(f"/external-task/{job['id']}/bpmnError",
                        {"workerId": "w1", "errorCode": "NO_CONSENT", "errorMessage": "declined",
                         "variables": {"reason": {"value": "declined", "type": "String"}}})

    assert response.status_code == 204
    assert open_task_elements(engine, case_id) == ["ask_consent"]
    assert jobs_of(engine, case_id) == []
    assert engine.case(case_id)["variables"]["reason"] == "declined"


def test_an_uncaught_bpmn_error_is_500_and_changes_nothing(api: Api, engine: Engine) -> None:
    engine.deploy({"consent.bpmn": error_boundary(with_boundary=False)})
    case_id = engine.start("consent")
    [job] = api.fetch(topic="consent")
    response = api.post(f"/external-task/{job['id']}/bpmnError", {"workerId": "w1", "errorCode": "OTHER"})
    assert_error(response, 500, "ProcessEngineException", "OTHER")
    assert [j.id for j in jobs_of(engine, case_id)] == [job["id"]]


def test_extend_lock_and_unlock(api: Api, engine: Engine, clock) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    engine.start("jobs")
    [job] = api.fetch(lockDuration=1000)
    task_url = f"/external-task/{job['id']}"

    assert api.post(f"{task_url}/extendLock", {"workerId": "w1", "newDuration": 60_000}).status_code == 204
    assert api.get(task_url).json["lockExpirationTime"] == "2026-01-05T09:01:00.000+0000"
    clock.advance(seconds=5)
    assert api.fetch(worker="w2") == []  # the extension holds
    assert_error(api.post(f"{task_url}/extendLock", {"workerId": "w2", "newDuration": 1000}), 400,
                 "BadUserRequestException")
    assert_error(api.post(f"{task_url}/extendLock", {"workerId": "w1"}), 400, "InvalidRequestException",
                 "newDuration")

    assert api.post(f"{task_url}/unlock").status_code == 204
    assert api.get(task_url).json["workerId"] is None
    assert [j["id"] for j in api.fetch(worker="w2")] == [job["id"]]
    assert_error(api.post("/external-task/nope/unlock"), 404, "InvalidRequestException")
    assert_error(api.post("/external-task/nope/extendLock", {"workerId": "w1", "newDuration": 5}), 404,
                 "InvalidRequestException")


def test_listing_external_tasks_with_filters(api: Api, engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job(), "other.bpmn": single_job("other", topic="mail")})
    first = engine.start("jobs", "BK-1")
    engine.start("jobs", "BK-2")
    engine.start("other", "BK-3")
    [locked] = api.fetch(businessKey="BK-1")

    def ids(**query: Any) -> list[str]:
        response = api.get("/external-task", **query)
        assert response.status_code == 200, response.json
        return [t["processInstanceId"] for t in response.json]

    assert len(ids()) == 3
    assert len(ids(topicName="work")) == 2
    assert ids(workerId="w1") == [first] == ids(locked="true") == ids(processInstanceId=first)
    assert len(ids(notLocked="true")) == 2
    assert ids(businessKey="BK-1") == [first]
    assert api.get("/external-task/count", topicName="work").json == {"count": 2}
    assert api.get(f"/external-task/{locked['id']}").json["workerId"] == "w1"
    assert_error(api.get("/external-task/nope"), 404, "InvalidRequestException", "nope")
    assert_error(api.get("/external-task", locked="maybe"), 400, "InvalidRequestException", "locked")
    assert_error(api.get("/external-task", tenantIdIn="x"), 400, "InvalidRequestException", "tenantIdIn")


# -- processes, tasks, messages ---------------------------------------------------------------------
def test_start_read_task_and_message(client: FlaskClient, engine: Engine) -> None:
    engine.deploy({"inquiry.bpmn": waits_for_reply()})
    api = Api(client, "integ")

    started = api.post("/process-definition/key/inquiry/start",
                       {"businessKey": "BK-1", "variables": {"asked": {"value": "price", "type": "String"}},
                        "withVariablesInReturn": True})
    assert started.status_code == 200, started.json
    case_id = started.json["id"]
    definition = engine.case(case_id)["definitionId"]
    assert {k: started.json[k] for k in ("id", "definitionId", "businessKey", "ended", "suspended")} == {
        "id": case_id, "definitionId": f"inquiry:1:{definition}", "businessKey": "BK-1", "ended": False,
        "suspended": False}
    assert started.json["links"][0]["href"].endswith(f"/engine-rest/process-instance/{case_id}")
    assert started.json["variables"] == {"asked": {"type": "String", "value": "price", "valueInfo": {}}}

    instance = api.get(f"/process-instance/{case_id}")
    assert (instance.status_code, instance.json["id"], instance.json["ended"]) == (200, case_id, False)
    assert api.get("/task", processInstanceId=case_id).json == []

    sent = api.post("/message", {"messageName": "reply", "businessKey": "BK-1",
                                 "processVariables": {"answer": {"value": 12, "type": "Integer"}}})
    assert sent.status_code == 204
    [task] = api.get("/task", processInstanceId=case_id).json
    assert {k: task[k] for k in ("name", "assignee", "processInstanceId", "taskDefinitionKey",
                                 "processDefinitionId")} == {
        "name": "Read reply", "assignee": None, "processInstanceId": case_id, "taskDefinitionKey": "read_reply",
        "processDefinitionId": f"inquiry:1:{definition}"}
    assert task["created"] == "2026-01-05T09:00:00.000+0000" and task["id"]
    assert api.get("/task", taskDefinitionKey="nope").json == []
    assert api.get(f"/process-instance/{case_id}/variables").json["answer"] == {
        "type": "Integer", "value": 12, "valueInfo": {}}

    assert_error(api.post("/message", {"messageName": "reply", "businessKey": "BK-1"}), 400, "RestException",
                 "reply")
    assert_error(api.get("/process-instance/nope"), 404, "InvalidRequestException", "nope")
    assert_error(api.post("/process-definition/key/nope/start", {}), 404, "InvalidRequestException", "nope")
    history = api.get(f"/history/process-instance/{case_id}").json
    assert (history["state"], history["startTime"]) == ("ACTIVE", "2026-01-05T09:00:00.000+0000")


def test_message_with_result_reports_a_started_case_and_a_delivery(client: FlaskClient, engine: Engine) -> None:
    engine.deploy({"intake.bpmn": started_by_message(), "inquiry.bpmn": waits_for_reply()})
    api = Api(client, "root")
    waiting = engine.start("inquiry", "BK-9")

    started = api.post("/message", {"messageName": "newClaim", "businessKey": "BK-NEW", "resultEnabled": True,
                                    "processVariables": {"claim": {"value": '{"sum": 5}', "type": "Json"}}})
    assert started.status_code == 200, started.json
    [result] = started.json
    assert result["resultType"] == "ProcessDefinition" and result["execution"] is None
    new_case = result["processInstance"]["id"]
    assert engine.case(new_case)["businessKey"] == "BK-NEW"
    assert engine.case(new_case)["variables"]["claim"] == {"sum": 5}

    delivered = api.post("/message", {"messageName": "reply", "processInstanceId": waiting, "resultEnabled": True,
                                      "variablesInResultEnabled": True})
    [result] = delivered.json
    assert result["resultType"] == "Execution" and result["execution"]["processInstanceId"] == waiting
    assert isinstance(result["variables"], dict)


# -- bad input -----------------------------------------------------------------------------------------
def test_bad_input_is_400_with_a_clear_message(api: Api, client: FlaskClient) -> None:
    headers = {**basic("bot"), "Content-Type": "application/json"}
    raw = client.post("/engine-rest/external-task/fetchAndLock", data=b'{"workerId": ', headers=headers)
    assert_error(raw, 400, "InvalidRequestException", "not valid JSON")
    assert_error(api.post("/external-task/fetchAndLock", [1]), 400, "InvalidRequestException", "JSON object")
    assert_error(api.post("/external-task/fetchAndLock", {"maxTasks": 1}), 400, "InvalidRequestException",
                 "workerId")
    assert_error(api.post("/external-task/fetchAndLock", {"workerId": "w", "maxTasks": "ten"}), 400,
                 "InvalidRequestException", "maxTasks")
    assert_error(api.post("/external-task/fetchAndLock", {"workerId": "w", "maxTasks": 1, "topics": [{}]}), 400,
                 "InvalidRequestException", "topicName")
    assert_error(api.post("/external-task/fetchAndLock", {"workerId": "w", "maxTasks": 1,
                                                          "asyncResponseTimeout": 3_600_000}),
                 400, "InvalidRequestException", "asyncResponseTimeout")
    bad_vars = [({"x": {"value": "abc", "type": "Integer"}}, "Integer"),
                ({"x": {"value": 1, "type": "Bytes"}}, "Bytes"),
                ({"x": {"value": "{", "type": "Json"}}, "Json"), ({"x": {"value": "soon", "type": "Date"}}, "date"),
                ({"x": 5}, "value"), ([1], "object")]
    for variables, text in bad_vars:
        response = api.post("/external-task/some-id/complete", {"workerId": "w1", "variables": variables})
        assert_error(response, 400, "InvalidRequestException", text)
    assert_error(api.get("/no/such/endpoint"), 404, "InvalidRequestException", "no endpoint")


def test_responses_with_a_clients_variables_write_the_access_log(client: FlaskClient, engine: Engine) -> None:
    from casework.access_log import accesses_of_client
    from casework.client import register_client
    from casework.client_case import open_case
    from casework.identity_code import IdentityCodeKeys

    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs", "BK-A", {"clientName": "Testi Asiakas"})
    anonymous = engine.start("jobs", "BK-B", {"n": 1})  # no casework record: no client to log
    with engine.db.transaction() as session:
        person = register_client(session, IdentityCodeKeys("k" * 32), name="Testi Asiakas",
                                 identity_code="010190-900P", at=engine.clock())
        open_case(session, case_id, person.id, engine.clock())
    assert len(Api(client).fetch(maxTasks=5)) == 2
    integration = Api(client, "integ")
    assert integration.get(f"/process-instance/{case_id}/variables").status_code == 200
    assert integration.get(f"/process-instance/{anonymous}/variables").status_code == 200
    with engine.db.transaction() as session:
        rows = accesses_of_client(session, person.id, engine.clock())
        assert sorted((r.user_id, r.role, r.case_id, r.what) for r in rows) == [
            ("bot", "worker", case_id, "external task variables"),
            ("integ", "integration", case_id, "process instance variables")]
        assert all(r.why.startswith("/engine-rest ") for r in rows)
