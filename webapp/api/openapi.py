"""The OpenAPI 3 document of /engine-rest and /api, generated from the app's URL map.

Every route under those prefixes is in the document with its methods, path parameters, the roles that
may call it (from `webapp.engine_rest.auth`), its summary (the view's docstring) and Camunda's error
shape. What a URL map cannot know (query parameters, request bodies) is described in DETAILS, keyed by
endpoint; tests/webapp/test_openapi.py checks that DETAILS names only real endpoints, so a renamed or
removed route cannot leave its description behind.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from casework.users import Role

PREFIXES = ("/engine-rest", "/api")
HIDDEN = {"engine_rest.unknown"}  # the JSON 404 for everything else under /engine-rest
VERSION = "1.0.0"


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


VARIABLES = {"$ref": "#/components/schemas/VariableMap"}
PAGING = [_query("firstResult", "index of the first result (0)", "integer"),
          _query("maxResults", "at most this many results", "integer")]
SORTING = [_query("sortBy", "dueDate, followUpDate, created, name, nameCaseInsensitive, priority, assignee, "
                            "taskDefinitionKey or processInstanceBusinessKey; needs sortOrder"),
           _query("sortOrder", "asc or desc; needs sortBy")]
TASK_FILTERS = [
    _query("assignee", "assigned to this user id"),
    _query("candidateUser", "offered to this user (for the caller themself: also through their groups)"),
    _query("candidateGroup", "offered to this candidate group"),
    _query("includeAssignedTasks", "with candidateUser/candidateGroup: also tasks already assigned", "boolean"),
    _query("unassigned", "only tasks nobody holds", "boolean"),
    _query("processInstanceId", "the case's id"),
    _query("processInstanceBusinessKey", "the case number"),
    _query("taskDefinitionKey", "the step: the BPMN element id"),
    _query("dueBefore", "due before this date (yyyy-MM-dd'T'HH:mm:ss.SSSZ)"),
    _query("followUpBefore", "follow-up date before this date"),
]
EXTERNAL_FILTERS = [_query(n, d) for n, d in (
    ("topicName", "the topic"), ("workerId", "locked by this worker"), ("locked", "true or false"),
    ("notLocked", "true or false"), ("withRetriesLeft", "true or false"), ("noRetriesLeft", "true or false"),
    ("processInstanceId", "the case's id"), ("activityId", "the BPMN element id"),
    ("businessKey", "the case number"))]
COMPLETE = _body({"variables": VARIABLES, "withVariablesInReturn": {"type": "boolean"}})
WORKER = {"workerId": _string("the worker's id (its lock holder name)")}

DETAILS: dict[str, dict[str, Any]] = {
    "engine_rest.task_list": {"parameters": TASK_FILTERS + SORTING + PAGING,
                              "response": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}},
    "engine_rest.task_count": {"parameters": TASK_FILTERS, "response": {"$ref": "#/components/schemas/Count"}},
    "engine_rest.task_get": {"response": {"$ref": "#/components/schemas/Task"}},
    "engine_rest.task_form_variables": {
        "parameters": [_query("variableNames", "comma-separated names (default: all)"),
                       _query("deserializeValues", "accepted and ignored: values are JSON", "boolean")],
        "response": VARIABLES},
    "engine_rest.task_claim": {"body": _body({"userId": _string("the caller's own id")}, ["userId"])},
    "engine_rest.task_unclaim": {},
    "engine_rest.task_assignee": {"body": _body({"userId": {"type": "string", "nullable": True},
                                                 "reason": _string("why (Polku: kept in the task's history)")})},
    "engine_rest.task_complete": {"body": COMPLETE, "response": VARIABLES},
    "engine_rest.task_submit_form": {"body": COMPLETE, "response": VARIABLES},
    "engine_rest.fetch_and_lock": {"body": _body({
        **WORKER, "maxTasks": {"type": "integer"}, "usePriority": {"type": "boolean"},
        "asyncResponseTimeout": {"type": "integer", "description": "long polling, ms (at most 1,800,000)"},
        "topics": {"type": "array", "items": {"type": "object", "properties": {
            "topicName": {"type": "string"}, "lockDuration": {"type": "integer"},
            "variables": {"type": "array", "items": {"type": "string"}}}}}}, ["workerId", "topics"])},
    "engine_rest.complete": {"body": _body({**WORKER, "variables": VARIABLES, "localVariables": VARIABLES},
                                           ["workerId"])},
    "engine_rest.failure": {"body": _body({**WORKER, "errorMessage": {"type": "string"},
                                           "errorDetails": {"type": "string"}, "retries": {"type": "integer"},
                                           "retryTimeout": {"type": "integer"}}, ["workerId"])},
    "engine_rest.bpmn_error": {"body": _body({**WORKER, "errorCode": {"type": "string"},
                                              "errorMessage": {"type": "string"}, "variables": VARIABLES},
                                             ["workerId", "errorCode"])},
    "engine_rest.extend_lock": {"body": _body({**WORKER, "newDuration": {"type": "integer"}},
                                              ["workerId", "newDuration"])},
    "engine_rest.set_retries": {"body": _body({"retries": {"type": "integer"}}, ["retries"])},
    "engine_rest.set_job_retries": {"body": _body({"retries": {"type": "integer"}}, ["retries"])},
    "engine_rest.list_tasks": {"parameters": EXTERNAL_FILTERS + PAGING},
    "engine_rest.count_tasks": {"parameters": EXTERNAL_FILTERS, "response": {"$ref": "#/components/schemas/Count"}},
    "engine_rest.start_by_key": {"body": _body({"businessKey": {"type": "string"}, "variables": VARIABLES,
                                                "withVariablesInReturn": {"type": "boolean"}})},
    "engine_rest.start_by_id": {"body": _body({"businessKey": {"type": "string"}, "variables": VARIABLES,
                                               "withVariablesInReturn": {"type": "boolean"}})},
    "engine_rest.process_instance_variables": {"response": VARIABLES},
    "engine_rest.message": {"body": _body({
        "messageName": {"type": "string"}, "businessKey": {"type": "string"},
        "processInstanceId": {"type": "string"}, "processVariables": VARIABLES,
        "processVariablesLocal": VARIABLES, "all": {"type": "boolean"}, "resultEnabled": {"type": "boolean"},
        "variablesInResultEnabled": {"type": "boolean"}}, ["messageName"])},
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                        "bearer": {"type": "http", "scheme": "bearer", "description": "`polku user token`"},
                        "session": {"type": "apiKey", "in": "cookie", "name": "polku_session",
                                    "description": "a signed-in browser session; POST also needs X-CSRFToken"}},
    "schemas": {
        "Error": {"type": "object", "required": ["type", "message"], "properties": {
            "type": _string("Camunda's exception class name, e.g. InvalidRequestException"),
            "message": _string("what was wrong with the request"),
            "errors": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "a form's invalid fields: field id -> message"}}},
        "Variable": {"type": "object", "properties": {
            "value": {}, "type": _string("String, Integer, Long, Double, Boolean, Date, Json, Object, Null"),
            "valueInfo": {"type": "object"}}},
        "VariableMap": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Variable"}},
        "Count": {"type": "object", "properties": {"count": {"type": "integer"}}},
        "Task": {"type": "object", "properties": {name: {"type": kind, "nullable": True} for name, kind in (
            ("id", "string"), ("name", "string"), ("assignee", "string"), ("created", "string"),
            ("due", "string"), ("followUp", "string"), ("priority", "integer"), ("processDefinitionId", "string"),
            ("processInstanceId", "string"), ("taskDefinitionKey", "string"), ("formKey", "string"),
            ("suspended", "boolean"))}},
    },
}
ERRORS = {"400": "bad input (the message names the field)", "401": "no or wrong credentials",
          "403": "the caller's roles or relationship do not allow it", "404": "no such thing",
          "409": "someone else got there first", "429": "too many failed sign-ins: wait Retry-After seconds"}


def openapi_path(rule: str) -> str:
    """Flask's /task/<task_id> as OpenAPI's /task/{task_id}."""
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>", r"{\1}", rule)


def documented_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(path, method, endpoint) of every route the document describes."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES) or rule.endpoint in HIDDEN:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((openapi_path(rule.rule), method.lower(), rule.endpoint))
    return sorted(out)


def _roles(endpoint: str) -> list[str] | None:
    """Which roles may call an /engine-rest endpoint (None: not an /engine-rest endpoint)."""
    from webapp.engine_rest.auth import ROLE_SCOPES, Scope
    from webapp.engine_rest.blueprint import SCOPES

    if not endpoint.startswith("engine_rest."):
        return None
    scope = SCOPES.get(endpoint, Scope.ADMIN)
    return sorted(role.value for role, scopes in ROLE_SCOPES.items() if scope in scopes) or [Role.ADMIN.value]


def describe(endpoint: str, *, parameters: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
             response: dict[str, Any] | None = None) -> None:
    """Describe an /api endpoint's query parameters, request body and response, from the module that defines
    it (call at import, beside the route): what the URL map cannot tell goes into DETAILS."""
    detail: dict[str, Any] = {}
    if parameters:
        detail["parameters"] = parameters
    if body is not None:
        detail["body"] = body
    if response is not None:
        detail["response"] = response
    DETAILS[endpoint] = detail


query = _query  # for describe(): query("q", "what it filters", "string")
json_body = _body  # for describe(): json_body({"text": {"type": "string"}}, required=["text"])


def _operation(app: Flask, path: str, method: str, endpoint: str) -> dict[str, Any]:
    view = app.view_functions[endpoint]
    doc = (view.__doc__ or "").strip().splitlines()
    detail = DETAILS.get(endpoint, {})
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{([^}]+)}", path)] + list(detail.get("parameters", []))
    success: dict[str, Any] = {"description": "done"}
    if "response" in detail:
        success["content"] = {"application/json": {"schema": detail["response"]}}
    responses: dict[str, Any] = {"200": success} if method == "get" or "response" in detail else {}
    if method == "post" and "response" not in detail:
        responses["204"] = {"description": "done"}
    if method == "post" and "response" in detail:
        responses["204"] = {"description": "done (without withVariablesInReturn)"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses.update({code: {"description": text, **error} for code, text in ERRORS.items()})
    operation: dict[str, Any] = {"operationId": endpoint.replace(".", "_") + ("" if method in ("get", "post") else
                                                                              f"_{method}"),
                                 "summary": doc[0] if doc else endpoint.split(".")[-1].replace("_", " "),
                                 "tags": [path.split("/")[1]], "parameters": parameters, "responses": responses}
    roles = _roles(endpoint)
    if roles is not None:
        operation["security"] = [{"basic": []}, {"bearer": []}]
        operation["x-polku-roles"] = roles
        operation["description"] = f"Roles that may call it: {', '.join(roles)}."
    elif endpoint.split(".")[0].endswith("_api"):  # webapp.auth.api: the session, HTTP Basic or a bearer token
        operation["security"] = [{"basic": []}, {"bearer": []}, {"session": []}]
        operation["description"] = "Staff accounts, with the same access rules and access log as the pages."
    else:
        operation["security"] = []
    if "body" in detail:
        operation["requestBody"] = detail["body"]
    return operation


def document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, endpoint in documented_routes(app):
        paths.setdefault(path, {})[method] = _operation(app, path, method, endpoint)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Polku", "version": VERSION,
                 "description": "Camunda 7's REST API where Polku implements it (/engine-rest: external tasks, "
                                "starting cases, messages, incidents, user tasks) and Polku's own /api. "
                                "Errors are Camunda's {type, message}."},
        "servers": [{"url": str(app.config.get("BASE_URL") or "/")}],
        "paths": paths,
        "components": COMPONENTS,
    }
