"""Process definitions (start), process instances and messages, Camunda 7-style (user tasks: task.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, url_for

from engine.errors import Conflict, ExpressionError, NotFound, ProcessError
from webapp.engine_rest.auth import Scope
from webapp.engine_rest.blueprint import (
    BUSINESS_KEY_LENGTH,
    INT_MAX,
    body,
    caller,
    engine,
    engine_error,
    field,
    log_variables_shown,
    public_url,
    route,
    unsupported,
)
from webapp.engine_rest.errors import InvalidRequest, Missing
from webapp.engine_rest.external_task import definition_id
from webapp.engine_rest.json_input import shown
from webapp.engine_rest.referral import PARTNER_ANSWER, partner_answer, received
from webapp.engine_rest.variables import format_date, plain_map, typed_map

ENDED = ("completed", "cancelled")


def instance_json(case: dict[str, Any]) -> dict[str, Any]:
    href = public_url(url_for("engine_rest.process_instance", case_id=case["id"]))
    return {"links": [{"method": "GET", "href": href, "rel": "self"}], "id": case["id"],
            "definitionId": definition_id(case), "businessKey": case["businessKey"], "caseInstanceId": None,
            "ended": case["status"] in ENDED, "suspended": case["status"] == "suspended", "tenantId": None}


def _running_case(case_id: str) -> dict[str, Any]:
    """A running (active or suspended) case; ended ones are history, as in Camunda's runtime API."""
    try:
        case = engine().case(case_id)
    except NotFound:
        case = None
    if case is None or case["status"] in ENDED:
        raise Missing(f"Process instance with id {case_id} does not exist")
    return case


# -- start ----------------------------------------------------------------------------------------
def _start(start: Any, what: str) -> Response:
    data = body()
    unsupported(data, "startInstructions", "caseInstanceId")
    business_key = field(data, "businessKey", str, max_length=BUSINESS_KEY_LENGTH)
    variables = plain_map(data.get("variables"))
    with_variables = field(data, "withVariablesInReturn", bool, default=False)
    variables = received(variables)  # a referral's identity code goes to the client record, never to the case
    try:
        case_id = start(business_key, variables)
    except NotFound:
        raise Missing(f"No matching process definition {what}") from None
    except (ProcessError, ExpressionError) as err:
        raise engine_error(err, f"Cannot instantiate process definition {what}: ") from None
    case = engine().case(case_id)
    out = instance_json(case)
    if with_variables:
        out["variables"] = typed_map(case["variables"])
        log_variables_shown([case_id], "process instance variables")
    return jsonify(out)


@route("/process-definition/key/<key>/start", Scope.START, methods=["POST"])
def start_by_key(key: str) -> Response:
    return _start(lambda bk, v: engine().start(key, bk, v, actor=caller().user_id), f"with key '{key}'")


@route("/process-definition/<definition>/start", Scope.START, methods=["POST"])
def start_by_id(definition: str) -> Response:
    """Ids are key:version:number (as this API hands them out) or the bare number."""
    number = definition.rsplit(":", 1)[-1]
    if not (number.isascii() and number.isdigit() and len(number) <= len(str(INT_MAX)) and int(number) <= INT_MAX):
        raise Missing(f"No matching process definition with id {shown(definition)}")
    return _start(lambda bk, v: engine().start_definition(int(number), bk, v, actor=caller().user_id),
                  f"with id '{definition}'")


# -- process instances ------------------------------------------------------------------------
@route("/process-instance/<case_id>", Scope.READ, methods=["GET"])
def process_instance(case_id: str) -> Response:
    return jsonify(instance_json(_running_case(case_id)))


@route("/process-instance/<case_id>/variables", Scope.READ, methods=["GET"])
def process_instance_variables(case_id: str) -> Response:
    variables = typed_map(_running_case(case_id)["variables"])
    log_variables_shown([case_id], "process instance variables")
    return jsonify(variables)


@route("/history/process-instance/<case_id>", Scope.READ, methods=["GET"])
def historic_process_instance(case_id: str) -> Response:
    """Every case, ended ones too: how an integration learns that (and how) a case finished."""
    try:
        case = engine().case(case_id)
    except NotFound:
        raise Missing(f"Historic process instance with id {case_id} does not exist") from None
    state = {"active": "ACTIVE", "suspended": "SUSPENDED", "completed": "COMPLETED",
             "cancelled": "EXTERNALLY_TERMINATED"}[case["status"]]
    return jsonify({"id": case["id"], "businessKey": case["businessKey"], "processDefinitionId": definition_id(case),
                    "processDefinitionKey": case["key"], "processDefinitionVersion": case["version"],
                    "startTime": _camunda_date(case["createdAt"]), "endTime": _camunda_date(case["endedAt"]),
                    "state": state, "tenantId": None})


def _camunda_date(iso: str | None) -> str | None:
    return format_date(datetime.fromisoformat(iso)) if iso else None


# -- messages ------------------------------------------------------------------------------------
@route("/message", Scope.MESSAGE, methods=["POST"])
def message() -> Response | tuple[str, int]:
    """Correlate to the waiting case(s), or start a case by message start event."""
    data = body()
    if data.get("messageName") == PARTNER_ANSWER:  # a partner's answer: casework checks it against the referral
        return partner_answer(data)
    unsupported(data, "correlationKeys", "localCorrelationKeys", "tenantId")
    name = field(data, "messageName", str, required=True)
    business_key = field(data, "businessKey", str, max_length=BUSINESS_KEY_LENGTH)
    case_id = field(data, "processInstanceId", str)
    variables = plain_map(data.get("processVariables"), "processVariables")
    variables.update(plain_map(data.get("processVariablesLocal"), "processVariablesLocal"))
    all_matches = field(data, "all", bool, default=False)
    result_enabled = field(data, "resultEnabled", bool, default=False)
    with_variables = field(data, "variablesInResultEnabled", bool, default=False)
    variables = received(variables)  # a referral's identity code goes to the client record, never to the case
    runtime = engine()
    waiting = set(runtime.message_waiters(name, case_id, business_key))
    try:
        delivered = runtime.correlate(name, case_id, business_key, variables, all_matches)
    except (NotFound, Conflict) as err:
        raise InvalidRequest(f"Cannot correlate message '{name}': {err}", type_="RestException") from None
    if not result_enabled:
        return "", 204
    results = []
    for target in delivered:
        case = runtime.case(target)
        if target in waiting:
            item: dict[str, Any] = {"resultType": "Execution", "processInstance": None, "execution": {
                "id": target, "processInstanceId": target, "ended": case["status"] in ENDED, "tenantId": None}}
        else:
            item = {"resultType": "ProcessDefinition", "execution": None, "processInstance": instance_json(case)}
        if with_variables:
            item["variables"] = typed_map(case["variables"])
        results.append(item)
    if with_variables:
        log_variables_shown(delivered, "process instance variables")
    return jsonify(results)
