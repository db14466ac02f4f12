"""Incidents as Camunda 7's REST API has them, and setting a timer job's retries (which re-arms it).

Camunda's names for the kinds: an external task whose retries ran out is `failedExternalTask`, a
timer job that failed is `failedJob`; `configuration` is the external task's or job's id. Listing is
Camunda's runtime view: open incidents only.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from engine.errors import NotFound
from engine.incidents import IncidentRecord
from engine.models import FAILED_EXTERNAL_TASK, FAILED_TIMER
from webapp.engine_rest.auth import Scope
from webapp.engine_rest.blueprint import body, caller, engine, field, query_args, query_int, route
from webapp.engine_rest.errors import Missing
from webapp.engine_rest.variables import format_date, parse_date

CAMUNDA_TYPES = {FAILED_EXTERNAL_TASK: "failedExternalTask", FAILED_TIMER: "failedJob"}
KINDS = {camunda: kind for kind, camunda in CAMUNDA_TYPES.items()}


def incident_json(incident: IncidentRecord) -> dict[str, Any]:
    own = str(incident.id)
    return {
        "id": own, "processDefinitionId": f"{incident.definition_key}:{incident.definition_version}:"
                                          f"{incident.definition_id}",
        "processInstanceId": incident.case_id, "executionId": incident.job_id,
        "incidentTimestamp": format_date(incident.created_at),
        "incidentType": CAMUNDA_TYPES.get(incident.kind, incident.kind), "activityId": incident.element_id,
        "failedActivityId": incident.element_id, "causeIncidentId": own, "rootCauseIncidentId": own,
        "configuration": incident.job_id, "tenantId": None, "incidentMessage": incident.message,
        "jobDefinitionId": None, "annotation": incident.note,
    }


QUERY = {"incidentId", "incidentType", "processInstanceId", "activityId", "configuration", "processDefinitionId",
         "firstResult", "maxResults"}


def _filters(args: dict[str, str]) -> dict[str, Any] | None:
    """The engine's filters for the query, or None when nothing can match (an id of the wrong form)."""
    filters: dict[str, Any] = {"case_id": args.get("processInstanceId"), "element_id": args.get("activityId"),
                               "job_id": args.get("configuration")}
    if "incidentId" in args:
        if not args["incidentId"].isdigit():
            return None
        filters["incident_id"] = int(args["incidentId"])
    if "incidentType" in args:
        filters["kind"] = KINDS.get(args["incidentType"], args["incidentType"])
    if "processDefinitionId" in args:
        number = args["processDefinitionId"].rsplit(":", 1)[-1]
        if not number.isdigit():
            return None
        filters["definition_id"] = int(number)
    return filters


@route("/incident", Scope.READ, methods=["GET"])
def list_incidents() -> Response:
    args = query_args(QUERY)
    filters = _filters(args)
    if filters is None:
        return jsonify([])
    found = engine().incidents(offset=query_int(args, "firstResult", 0),
                               limit=query_int(args, "maxResults", 1000), **filters)
    return jsonify([incident_json(i) for i in found])


@route("/incident/count", Scope.READ, methods=["GET"])
def count_incidents() -> Response:
    filters = _filters(query_args(QUERY - {"firstResult", "maxResults"}))
    return jsonify({"count": 0 if filters is None else engine().count_incidents(**filters)})


@route("/incident/<incident_id>", Scope.READ, methods=["GET"])
def get_incident(incident_id: str) -> Response:
    found = engine().incidents(incident_id=int(incident_id)) if incident_id.isdigit() else []
    if not found:
        raise Missing(f"Incident with id {incident_id} does not exist")
    return jsonify(incident_json(found[0]))


@route("/job/<job_id>/retries", Scope.ADMIN, methods=["PUT"])
def set_job_retries(job_id: str) -> tuple[str, int]:
    """A timer job: retries above 0 re-arm it (its incident resolved), 0 parks it; `dueDate` moves it."""
    data = body()
    retries = field(data, "retries", int, required=True, minimum=0)
    due = data.get("dueDate")
    due_at = parse_date(due, "dueDate") if due is not None else None
    try:
        engine().set_timer_retries(job_id, retries, caller().user_id, due_at)
    except NotFound:
        raise Missing(f"Job with id {job_id} does not exist (an external task's retries are set with "
                      f"PUT /external-task/{{id}}/retries)") from None
    return "", 204
