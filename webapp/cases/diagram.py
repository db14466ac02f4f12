"""Where the case is on its BPMN diagram (bpmn-js in the browser, data from `/cases/<key>/diagram.json`).

Contract with `webapp.cases.views`: `diagram_context` returns the context `cases/_diagram.html` reads: the
viewer's data URLs and a text alternative (the current steps since when and until when, the waiting timers,
the called service coordination instances with theirs). The case page opened the case and wrote the access
log; the JSON routes here open it themselves (once per request), as every response with case data must.

The path comes from `engine.case_path` (the engine's history, open work and saved state). A called instance
(`coordinate_services` calls `service_coordination` once per planned service) has its own diagram data at
`/cases/<key>/diagram/<instance>.json` and its own view at `/cases/<key>?diagram=<instance>#diagram`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_babel import format_datetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.plan import PlanItem
from engine.case_path import CasePath, InstancePath, case_path, process_diagram
from engine.models import Case, Definition
from webapp.api.openapi import describe
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import login_required, require_staff
from webapp.bpmn_texts import label
from webapp.cases import api, bp
from webapp.cases.access import Opened, open_case_json

MAX_INSTANCE = 64  # an instance id is a UUID; anything longer is not one


def _engine() -> Any:
    return current_app.config["ENGINE"]


def _when(value: datetime | None) -> str | None:
    return format_datetime(value, "short") if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _process_name(session: Session, key: str) -> str:
    name = session.scalar(select(Definition.name).where(Definition.key == key)
                          .order_by(Definition.version.desc()).limit(1))
    return label(key, name)


def _service_labels(session: Session, path: CasePath) -> dict[str, str]:
    """What each called instance is about: the planned service it coordinates (its provider and text)."""
    ids = {i.instance_id: i.inputs.get("serviceId") for i in path.called()}
    numbers = {int(v) for v in ids.values() if isinstance(v, int | str) and str(v).isdigit()}
    if not numbers:
        return {}
    items = {str(item.id): item for item in session.scalars(select(PlanItem).where(PlanItem.id.in_(numbers)))}
    out: dict[str, str] = {}
    for instance_id, service_id in ids.items():
        item = items.get(str(service_id))
        if item is not None:
            out[instance_id] = ": ".join(p for p in (item.provider_organisation, item.text) if p)
    return out


def _instance_label(path: CasePath, instance: InstancePath, process: str, services: dict[str, str]) -> str:
    about = services.get(instance.instance_id)
    if about:
        return f"{process} ({about})"
    siblings = [i.instance_id for i in path.called(instance.parent_id) if i.process_key == instance.process_key]
    return f"{process} {siblings.index(instance.instance_id) + 1}" if len(siblings) > 1 else process


def _steps(instance: InstancePath) -> list[dict[str, Any]]:
    return [{"id": s.element_id, "name": label(s.element_id, s.name), "kind": s.kind, "since": _iso(s.since),
             "sinceText": _when(s.since), "due": _iso(s.due), "dueText": _when(s.due)} for s in instance.active]


def _timers(instance: InstancePath, names: dict[str, str | None]) -> list[dict[str, Any]]:
    return [{"id": t.element_id, "name": label(t.element_id, names.get(t.element_id)), "due": _iso(t.due),
             "dueText": _when(t.due)} for t in instance.timers]


def _called(session: Session, path: CasePath, key: str, parent: InstancePath, names: dict[str, str | None],
            endpoint: str) -> list[dict[str, Any]]:
    services = _service_labels(session, path)
    out = []
    for instance in path.called(parent.instance_id):
        process = _process_name(session, instance.process_key)
        out.append({"instance": instance.instance_id, "element": instance.called_from,
                    "process": instance.process_key,
                    "label": _instance_label(path, instance, process, services),
                    "ended": instance.ended, "active": instance.active_ids,
                    "steps": _steps(instance), "timers": _timers(instance, names),
                    "dataUrl": _data_url(endpoint, key, instance.instance_id),
                    "pageUrl": url_for("cases.case_page", key=key, diagram=instance.instance_id,
                                       _anchor="diagram")})
    return out


def _timer_names(session: Session, case_id: str) -> dict[str, str | None]:
    """The names of the timer elements, as the engine knows them (case.waiting)."""
    waiting = session.scalar(select(Case.waiting).where(Case.id == case_id)) or []
    return {str(w.get("id")): w.get("name") for w in waiting if isinstance(w, dict) and w.get("kind") == "timer"}


def _data_url(endpoint: str, key: str, instance: str | None) -> str:
    """The data of the case's own process (instance None) or of a called one, on the page's JSON or under /api."""
    if endpoint.startswith("cases_api."):
        if instance is None:
            return url_for("cases_api.api_diagram", key=key)
        return url_for("cases_api.api_called_diagram", key=key, instance=instance)
    return url_for("cases.diagram_data", key=key, instance=instance)


def _pick(path: CasePath, instance_id: str | None) -> InstancePath | None:
    if not instance_id:
        return path.top
    return path.instances.get(instance_id[:MAX_INSTANCE])


def diagram_data(session: Session, case_id: str, key: str, instance_id: str | None, with_xml: bool = True,
                 endpoint: str = "cases.diagram_data") -> dict[str, Any] | None:
    """The diagram of one process instance of the case (its own by default) with where it is and the way it
    came; None when the case or that instance does not exist. `endpoint`: where the data URLs in it point
    (the page's JSON or the /api twin)."""
    path = case_path(session, case_id, with_flows=with_xml)
    if path is None:
        return None
    instance = _pick(path, instance_id)
    if instance is None:
        return None
    diagram = process_diagram(session, path.deployment_id, instance.process_key) if with_xml else None
    names = _timer_names(session, case_id)
    process = _process_name(session, instance.process_key)
    parent = path.instances.get(instance.parent_id) if instance.parent_id else None
    out: dict[str, Any] = {
        "case": key,
        "instance": {"id": instance.instance_id, "process": instance.process_key, "name": process,
                     "ended": instance.ended, "startedAt": _iso(instance.started_at),
                     "endedAt": _iso(instance.ended_at)},
        "parent": None if parent is None else {
            "instance": parent.instance_id, "element": instance.called_from,
            "dataUrl": _data_url(endpoint, key, None if parent.parent_id is None else parent.instance_id),
            "pageUrl": url_for("cases.case_page", key=key, _anchor="diagram",
                               diagram=None if parent.parent_id is None else parent.instance_id)},
        "active": _steps(instance),
        "completed": instance.completed,
        "flows": instance.flows,
        "timers": _timers(instance, names),
        "called": _called(session, path, key, instance, names, endpoint),
    }
    if with_xml:
        out["xml"] = diagram[1].decode("utf-8", errors="replace") if diagram else None
    return out


def diagram_context(opened: Opened) -> dict[str, Any]:
    """The context of the diagram partial for one case page (`?diagram=<instance>` shows a called one)."""
    wanted = request.args.get("diagram") or None
    with _engine().db.read() as session:
        data = diagram_data(session, opened.case_id, opened.business_key, wanted, with_xml=False)
        if data is None and wanted:
            wanted = None
            data = diagram_data(session, opened.case_id, opened.business_key, None, with_xml=False)
    return {"diagram": data,
            "diagram_url": url_for("cases.diagram_data", key=opened.business_key, instance=wanted)}


# -- routes ------------------------------------------------------------------------------------------------------

def _open(key: str, instance: str | None, api_call: bool) -> Any:
    staff = api_staff() if api_call else require_staff()
    what = "case diagram" if instance is None else "case diagram: a called process"
    opened = open_case_json(staff, key, what)
    if not isinstance(opened, Opened):
        return opened
    with _engine().db.read() as session:
        data = diagram_data(session, opened.case_id, opened.business_key, instance,
                            endpoint="cases_api.api_called_diagram" if api_call else "cases.diagram_data")
    if data is None:
        return json_error(404, "NotFoundException", "no such process instance in this case")
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<key>/diagram.json", defaults={"instance": None}, endpoint="diagram_data")
@bp.route("/<key>/diagram/<instance>.json", endpoint="diagram_data")
@login_required
def diagram_json(key: str, instance: str | None) -> Any:
    """The case's diagram with where it is, for the viewer on the case page (session only)."""
    return _open(key, instance, api_call=False)


@api.route("/<key>/diagram", methods=["GET"])
@api_route
def api_diagram(key: str) -> Any:
    """Where the case is on its BPMN diagram: active elements, path taken, timers, the processes it called."""
    return _open(key, None, api_call=True)


@api.route("/<key>/diagram/<instance>", methods=["GET"])
@api_route
def api_called_diagram(key: str, instance: str) -> Any:
    """Where one process the case called (e.g. a service coordination) is on its own BPMN diagram."""
    return _open(key, instance, api_call=True)


_STEP = {"type": "object", "properties": {
    "id": {"type": "string", "description": "BPMN element id"}, "name": {"type": "string"},
    "kind": {"type": "string"}, "since": {"type": "string", "format": "date-time"},
    "due": {"type": "string", "format": "date-time", "nullable": True}}}
_TIMER = {"type": "object", "properties": {
    "id": {"type": "string", "description": "BPMN element id of the timer event"}, "name": {"type": "string"},
    "due": {"type": "string", "format": "date-time"}}}
_DIAGRAM = {"type": "object", "properties": {
    "case": {"type": "string", "description": "the case number"},
    "instance": {"type": "object", "description": "the process instance shown: the case's own, or a called one"},
    "parent": {"type": "object", "nullable": True, "description": "for a called instance: who called it"},
    "xml": {"type": "string", "nullable": True, "description": "the BPMN 2.0 XML of the deployed version"},
    "active": {"type": "array", "items": _STEP},
    "completed": {"type": "array", "items": {"type": "string"}, "description": "element ids completed"},
    "flows": {"type": "array", "items": {"type": "string"}, "description": "sequence flow ids taken"},
    "timers": {"type": "array", "items": _TIMER},
    "called": {"type": "array", "items": {"type": "object", "properties": {
        "instance": {"type": "string"}, "element": {"type": "string"}, "process": {"type": "string"},
        "label": {"type": "string"}, "ended": {"type": "boolean"}, "active": {"type": "array"},
        "dataUrl": {"type": "string"}, "pageUrl": {"type": "string"}}}}}}
describe("cases_api.api_diagram", response=_DIAGRAM)
describe("cases_api.api_called_diagram", response=_DIAGRAM)
