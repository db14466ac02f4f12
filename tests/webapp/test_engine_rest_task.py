"""Camunda 7's task API for people: a Camunda-7-style tasklist client against /engine-rest/task, plain HTTP.

The client lists the tasks offered to its user, claims one, reads its form variables, submits the form
(first with mistakes, then right), as Camunda Tasklist or a custom tasklist built for Camunda 7 does.
The same rules as the inbox decide what each account sees and may do.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.access_log import AccessLogEntry
from casework.client import register_client
from casework.client_case import open_case
from casework.identity_code import IdentityCodeKeys
from casework.teams import add_member, add_team
from casework.users import Role
from engine.runtime import Engine
from tests.diagrams import chain, process
from tests.webapp.support import app_client, basic

FORM = """<bpmn:extensionElements><camunda:formData>
  <camunda:formField id="summary" label="Summary" type="string">
    <camunda:validation><camunda:constraint name="required"/><camunda:constraint name="maxlength" config="200"/>
    </camunda:validation></camunda:formField>
  <camunda:formField id="rating" label="Rating" type="long" defaultValue="1">
    <camunda:validation><camunda:constraint name="min" config="0"/><camunda:constraint name="max" config="3"/>
    </camunda:validation></camunda:formField>
  <camunda:formField id="pathClear" label="Path clear" type="boolean"/>
  <camunda:formField id="nextMeeting" label="Next meeting" type="date"/>
  <camunda:formField id="motivation" label="Motivation" type="enum">
    <camunda:value id="low" name="Low"/><camunda:value id="high" name="High"/></camunda:formField>
</camunda:formData></bpmn:extensionElements>"""
MAPPING = process("mapping", f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="map_needs" name="Map needs" camunda:candidateGroups="coordinators">{FORM}</bpmn:userTask>
<bpmn:userTask id="review" name="Review" camunda:candidateGroups="coordinators"/>
<bpmn:endEvent id="end"/>""" + chain("start", "map_needs", "review", "end"))
ACCOUNTS = {"anna": Role.COORDINATOR, "bea": Role.COORDINATOR, "lea": Role.TEAM_LEAD, "olli": Role.COORDINATOR,
            "integ": Role.INTEGRATION, "bot": Role.WORKER}


class Tasklist:
    """What a Camunda 7 tasklist client sends: JSON over HTTP with Basic credentials."""

    def __init__(self, client: FlaskClient, user: str) -> None:
        self.client, self.headers = client, basic(user)

    def get(self, path: str, **query: Any) -> Any:
        return self.client.get(f"/engine-rest{path}", query_string=query, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(f"/engine-rest{path}", json=body if body is not None else {}, headers=self.headers)


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    client = app_client(engine, ACCOUNTS)
    engine.deploy({"mapping.bpmn": MAPPING})
    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    with engine.db.transaction() as session:
        add_team(session, "turku", "Turku", engine.clock())
        add_team(session, "iisalmi", "Iisalmi", engine.clock(), groups={"iisalmiCoordinators": Role.COORDINATOR})
        for user in ("anna", "bea", "lea"):
            add_member(session, "turku", user)
        add_member(session, "iisalmi", "olli")
    first = engine.start("mapping", "TKU-1")
    engine.clock.advance(minutes=5)  # type: ignore[attr-defined]
    second = engine.start("mapping", "TKU-2")
    with engine.db.transaction() as session:
        client_row = register_client(session, keys, name="Testi Asiakas", identity_code="010190-900P",
                                     at=engine.clock())
        open_case(session, first, client_row.id, engine.clock())
    [task_1] = engine.open_tasks(first)
    [task_2] = engine.open_tasks(second)
    return {"client": client, "first": first, "second": second, "task_1": task_1.id, "task_2": task_2.id}


def api(world: dict[str, Any], user: str) -> Tasklist:
    return Tasklist(world["client"], user)


def access_rows(engine: Engine) -> list[tuple[str, str | None, str]]:
    with engine.db.read() as session:
        return [(r.user_id, r.case_id, r.what) for r in session.scalars(select(AccessLogEntry))]


def assert_error(response: Any, status: int, kind: str, *words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["type"] == kind and all(w in response.json["message"] for w in words), response.json


def test_a_camunda_tasklist_flow_list_claim_form_variables_submit(world: dict[str, Any], engine: Engine) -> None:
    anna = api(world, "anna")
    offered = anna.get("/task", candidateUser="anna", sortBy="created", sortOrder="asc")
    assert offered.status_code == 200
    assert [t["id"] for t in offered.json] == [world["task_1"], world["task_2"]]
    task = offered.json[0]
    assert {k: task[k] for k in ("name", "assignee", "taskDefinitionKey", "processInstanceId", "created")} == {
        "name": "Map needs", "assignee": None, "taskDefinitionKey": "map_needs",
        "processInstanceId": world["first"], "created": "2026-01-05T09:00:00.000+0000"}
    assert task["processDefinitionId"].startswith("mapping:1:")
    assert anna.get("/task/count", candidateUser="anna").json == {"count": 2}
    newest_first = anna.get("/task", candidateGroup="coordinators", sortBy="created", sortOrder="desc",
                            maxResults=1)
    assert [t["id"] for t in newest_first.json] == [world["task_2"]]
    assert [t["id"] for t in anna.get("/task", processInstanceBusinessKey="TKU-2").json] == [world["task_2"]]
    assert [t["id"] for t in anna.get("/task", processInstanceId=world["first"]).json] == [world["task_1"]]

    task_id = world["task_1"]
    assert anna.post(f"/task/{task_id}/claim", {"userId": "anna"}).status_code == 204
    assert [t["id"] for t in anna.get("/task", assignee="anna").json] == [task_id]
    assert anna.get("/task/count", candidateUser="anna").json == {"count": 1}  # claimed: no longer offered
    assert anna.get(f"/task/{task_id}").json["assignee"] == "anna"

    before = len(access_rows(engine))
    form = anna.get(f"/task/{task_id}/form-variables")
    assert form.status_code == 200
    assert form.json == {
        "summary": {"type": "String", "value": None, "valueInfo": {}},
        "rating": {"type": "Long", "value": 1, "valueInfo": {}},
        "pathClear": {"type": "Boolean", "value": None, "valueInfo": {}},
        "motivation": {"type": "String", "value": None, "valueInfo": {}},
        "nextMeeting": {"type": "Date", "value": None, "valueInfo": {}},
    }
    assert access_rows(engine)[before:] == [("anna", world["first"], "task form variables")]  # once
    assert set(anna.get(f"/task/{task_id}/form-variables", variableNames="rating").json) == {"rating"}

    wrong = anna.post(f"/task/{task_id}/submit-form", {"variables": {
        "rating": {"value": 7, "type": "Long"}, "motivation": {"value": "sky-high", "type": "String"}}})
    assert_error(wrong, 400, "InvalidRequestException", "summary", "rating", "motivation")
    assert set(wrong.json["errors"]) == {"summary", "rating", "motivation"}
    assert anna.get(f"/task/{task_id}").json["assignee"] == "anna"  # nothing changed

    done = anna.post(f"/task/{task_id}/submit-form", {"variables": {
        "summary": {"value": "Needs a broad plan", "type": "String"}, "rating": {"value": 2, "type": "Long"},
        "pathClear": {"value": False, "type": "Boolean"}, "motivation": {"value": "high", "type": "String"},
        "nextMeeting": {"value": "2026-02-10T00:00:00.000+0000", "type": "Date"}}})
    assert done.status_code == 204, done.get_data(as_text=True)
    variables = engine.case(world["first"])["variables"]
    assert {k: variables[k] for k in ("summary", "rating", "pathClear", "motivation", "nextMeeting")} == {
        "summary": "Needs a broad plan", "rating": 2, "pathClear": False, "motivation": "high",
        "nextMeeting": "2026-02-10"}
    [review] = anna.get("/task", processInstanceId=world["first"]).json
    assert review["taskDefinitionKey"] == "review"
    review_form = anna.get(f"/task/{review['id']}/form-variables", variableNames="summary,rating")
    assert review_form.json == {"summary": {"type": "String", "value": "Needs a broad plan", "valueInfo": {}},
                                "rating": {"type": "Integer", "value": 2, "valueInfo": {}}}  # no form: the case's
    again = anna.post(f"/task/{task_id}/complete", {})
    assert_error(again, 409, "ProcessEngineException", "completed")


def test_complete_with_variables_in_return_logs_the_access(world: dict[str, Any], engine: Engine) -> None:
    anna = api(world, "anna")
    task_id = world["task_1"]
    anna.post(f"/task/{task_id}/claim", {"userId": "anna"})
    before = len(access_rows(engine))
    done = anna.post(f"/task/{task_id}/complete", {"variables": {"summary": {"value": "ok"}},
                                                   "withVariablesInReturn": True})
    assert done.status_code == 200 and done.json["summary"] == {"type": "String", "value": "ok", "valueInfo": {}}
    assert [row[1] for row in access_rows(engine)[before:]] == [world["first"]]


def test_people_see_and_do_only_what_the_inbox_lets_them(world: dict[str, Any]) -> None:
    anna, bea, lea, olli = (api(world, u) for u in ("anna", "bea", "lea", "olli"))
    task_id = world["task_1"]

    assert olli.get("/task").json == []  # a coordinator of a team that answers for other groups: nothing here
    assert olli.get("/task/count").json == {"count": 0}
    assert_error(olli.get(f"/task/{task_id}"), 403, "AuthorizationException", "olli")
    assert_error(olli.get(f"/task/{task_id}/form-variables"), 403, "AuthorizationException")
    assert_error(olli.post(f"/task/{task_id}/claim", {"userId": "olli"}), 403, "AuthorizationException")

    assert_error(anna.post(f"/task/{task_id}/complete", {}), 403, "AuthorizationException", "claim it first")
    assert_error(anna.post(f"/task/{task_id}/claim", {"userId": "bea"}), 403, "AuthorizationException")
    assert anna.post(f"/task/{task_id}/claim", {"userId": "anna"}).status_code == 204
    assert_error(bea.post(f"/task/{task_id}/claim", {"userId": "bea"}), 409, "TaskAlreadyClaimedException")
    assert_error(bea.post(f"/task/{task_id}/complete", {}), 403, "AuthorizationException")
    assert_error(bea.post(f"/task/{task_id}/unclaim"), 403, "AuthorizationException")
    assert_error(bea.post(f"/task/{task_id}/assignee", {"userId": "bea"}), 403, "AuthorizationException")

    # the team lead sees the team's work and moves it within the team, not outside it
    assert {t["id"] for t in lea.get("/task").json} == {world["task_1"], world["task_2"]}
    assert_error(lea.post(f"/task/{task_id}/assignee", {"userId": "olli"}), 400, "InvalidRequestException",
                 "olli")
    moved = lea.post(f"/task/{task_id}/assignee", {"userId": "bea", "reason": "Anna is on leave"})
    assert moved.status_code == 204
    assert bea.get(f"/task/{task_id}").json["assignee"] == "bea"
    assert bea.post(f"/task/{task_id}/unclaim").status_code == 204
    assert anna.get(f"/task/{task_id}").json["assignee"] is None


def test_machine_accounts_read_but_do_not_act(world: dict[str, Any]) -> None:
    integ, bot = api(world, "integ"), api(world, "bot")
    assert len(integ.get("/task").json) == 2
    assert integ.get("/task/count", processInstanceBusinessKey="TKU-1").json == {"count": 1}
    assert_error(integ.post(f"/task/{world['task_1']}/claim", {"userId": "integ"}), 403, "AuthorizationException",
                 "staff account")
    assert_error(bot.get("/task"), 403, "AuthorizationException")


def test_unknown_tasks_are_404(world: dict[str, Any]) -> None:
    anna = api(world, "anna")
    for response in (anna.get("/task/no-such-task"), anna.get("/task/no-such-task/form-variables"),
                     anna.post("/task/no-such-task/claim", {"userId": "anna"}),
                     anna.post("/task/no-such-task/complete", {})):
        assert_error(response, 404, "InvalidRequestException", "no-such-task")


@pytest.mark.parametrize("query, word", [
    ({"sortBy": "created"}, "sortOrder"),
    ({"sortBy": "colour", "sortOrder": "asc"}, "colour"),
    ({"sortBy": "created", "sortOrder": "sideways"}, "sortOrder"),
    ({"dueBefore": "next tuesday"}, "dueBefore"),
    ({"maxResults": "-1"}, "maxResults"),
    ({"tenantIdIn": "x"}, "tenantIdIn"),
])
def test_bad_queries_are_400_naming_the_parameter(world: dict[str, Any], query: dict[str, str], word: str) -> None:
    assert_error(api(world, "anna").get("/task", **query), 400, "InvalidRequestException", word)


def test_bad_bodies_are_400_naming_the_field(world: dict[str, Any]) -> None:
    anna = api(world, "anna")
    task_id = world["task_1"]
    assert_error(anna.post(f"/task/{task_id}/claim", {}), 400, "InvalidRequestException", "userId")
    assert_error(anna.post(f"/task/{task_id}/claim", {"userId": 5}), 400, "InvalidRequestException", "userId")
    anna.post(f"/task/{task_id}/claim", {"userId": "anna"})
    assert_error(anna.post(f"/task/{task_id}/submit-form", {"variables": {"rating": {"value": "x", "type": "Long"}}}),
                 400, "InvalidRequestException", "rating")


def test_dates_filter_due_and_follow_up(world: dict[str, Any], engine: Engine) -> None:
    from datetime import timedelta

    now = engine.clock()
    engine.set_dates(world["task_1"], now + timedelta(days=1), now + timedelta(days=3), actor="anna")
    anna = api(world, "anna")
    assert [t["id"] for t in anna.get("/task", dueBefore="2026-01-07T00:00:00.000+0000").json] == [world["task_1"]]
    assert anna.get("/task", dueBefore="2026-01-06T00:00:00.000+0000").json == []
    assert [t["id"] for t in anna.get("/task", followUpBefore="2026-01-09T00:00:00.000+0000").json] == [
        world["task_1"]]
    by_due = anna.get("/task", sortBy="dueDate", sortOrder="desc").json
    assert [t["id"] for t in by_due] == [world["task_1"], world["task_2"]]  # a task without a date comes last
    assert by_due[0]["due"] == "2026-01-06T09:05:00.000+0000" and by_due[0]["followUp"].startswith("2026-01-08")
    counted = select(func.count()).select_from(AccessLogEntry)
    with engine.db.read() as session:
        assert session.scalar(counted) == 0  # task lists carry no client data: nothing logged
