"""Where cases wait, on the process diagram (`/manage/heatmap`): each step coloured by how many wait there or by
their age (90th percentile), for one deployed process version at a time.

The page draws the deployed diagram with bpmn-js (static/manage-heatmap.js, the case page's viewer helpers from
static/diagram-viewer.js) from `/manage/heatmap.json` (the version's BPMN XML and the per-step figures of
`casework.stalls.step_stalls`); `/api/manage/heatmap` is its twin for API callers. Beside the drawing, a table
says the same in text and links each step to its list (`/manage/steps/<process>/<element>`, the same filters),
so the page works for screen readers and without JavaScript.

The colour is a level 1-4 of the largest value shown (`level`), computed here so the page, the JSON and the
legend agree; every coloured step also carries a badge with its number, so nothing is said by colour alone.
Aggregates only (no case numbers, no client data): no access log here; the drill-down list writes it.

`_heatmap.html` is includable in other management pages (`{% include "manage/_heatmap.html" %}`): it takes the
context from `heatmap` when the view gave one, else builds it from the request (`manage_heatmap()`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.referral_intake import PROCESS_KEY
from casework.staff import Staff
from casework.stalls import LATEST, StepStall, may_manage, step_stalls
from engine.case_path import process_diagram
from engine.models import Definition
from engine.runtime import Engine
from webapp import bpmn_texts
from webapp.api.openapi import describe, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import current_staff, roles_required
from webapp.manage import api, bp
from webapp.manage.views import AS_OF, FILTER_PARAMS, KIND_LABELS, ROLES, Filters, _manager_staff, filters, summary_time
from webapp.manage.views import duration as format_duration

SERVICE_COORDINATION = "service_coordination"  # bpmn/service-coordination.bpmn, called once per planned service
FIRST = (PROCESS_KEY, SERVICE_COORDINATION)  # offered first, in this order; other deployed processes after them
LEVELS = 4  # colour levels (manage-heatmap.css: polku-heat--1 ... polku-heat--4)
WAITING = "waiting"
AGE = "age"
MEASURES = (WAITING, AGE)
_LOCK = threading.Lock()
_XML: dict[tuple[str, int], str | None] = {}  # (process key, version) -> its diagram as deployed (immutable)
_MAX_XML = 64


def _engine() -> Engine:
    found: Engine = current_app.config["ENGINE"]
    return found


# -- the scale ------------------------------------------------------------------------------------------------
def level(value: int, top: int) -> int:
    """The colour level of a waiting step's value: 1-4 in equal quarters of the largest value shown (`top`).

    A step where cases wait is at least level 1 even when its age is zero (a wait that began just now)."""
    if top <= 0:
        return 1
    return min(LEVELS, max(1, math.ceil(LEVELS * value / top)))


@dataclass(frozen=True)
class Band:
    """One level of the legend: the values from `low` to `high` (inclusive) get colour `level`."""

    level: int
    low: int
    high: int
    text: str


def bands(top: int, measure: str) -> list[Band]:
    """The legend of a scale whose largest value is `top` (whole cases, or whole seconds of age); a level no
    whole value falls into is left out."""
    out = []
    for n in range(1, LEVELS + 1):
        low = 0 if n == 1 and measure == AGE else top * (n - 1) // LEVELS + 1
        high = top * n // LEVELS
        if low > high:
            continue
        out.append(Band(n, low, high, _range_text(low, high, measure)))
    return out


def _range_text(low: int, high: int, measure: str) -> str:
    if measure == AGE:
        first, last = format_duration(timedelta(seconds=low)), format_duration(timedelta(seconds=high))
    else:
        first, last = str(low), str(high)
    return first if first == last else _("%(low)s–%(high)s", low=first, high=last)


# -- what the page shows --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeatStep:
    """A step where cases wait, with its figures, colour levels and the URL of its list."""

    stall: StepStall
    name: str
    kind_label: str
    level_waiting: int
    level_age: int
    url: str

    @property
    def age_p90_seconds(self) -> int:
        return int(self.stall.age_p90.total_seconds())

    def as_json(self) -> dict[str, Any]:
        s = self.stall
        return {"elementId": s.element_id, "name": self.name, "kind": s.kind, "waiting": s.waiting,
                "cases": s.cases, "ageP50Seconds": int(s.age_p50.total_seconds()),
                "ageP90Seconds": self.age_p90_seconds, "ageMaxSeconds": int(s.age_max.total_seconds()),
                "overdue": s.overdue, "level": {WAITING: self.level_waiting, AGE: self.level_age},
                "text": {WAITING: str(s.waiting), AGE: format_duration(s.age_p90)},
                "label": _("%(step)s: %(waiting)d waiting, age (90th percentile) %(age)s. Open the list.",
                           step=self.name, waiting=s.waiting, age=format_duration(s.age_p90)),
                "listUrl": self.url}


@dataclass(frozen=True)
class Heatmap:
    """The context of `_heatmap.html` and the body of the JSON: one process version and its waiting steps."""

    f: Filters
    at: datetime
    process_key: str | None
    process_name: str
    version: int | None
    processes: list[tuple[str, str]]  # (key, name) of the deployed processes, the main one first
    versions: list[int]  # the chosen process's versions, newest first
    measure: str
    steps: list[HeatStep] = field(default_factory=list)
    scale: dict[str, list[Band]] = field(default_factory=dict)

    @property
    def version_choice(self) -> str:
        """The `version` filter of this process version (`key:version`), as the step lists read it."""
        return f"{self.process_key}:{self.version}" if self.process_key and self.version else LATEST

    def args(self, measure: bool = False) -> dict[str, str]:
        """The query string of this view: the filters, the process version, optionally the measure."""
        out = {**self.f.args(False), "version": self.version_choice}
        if self.process_key:
            out["process"] = self.process_key
        if measure and self.measure != WAITING:
            out["measure"] = self.measure
        return out

    def as_json(self, xml: str | None) -> dict[str, Any]:
        return {"team": self.f.team, "municipality": self.f.municipality or None, "asOf": self.at.isoformat(),
                "process": {"key": self.process_key, "name": self.process_name, "version": self.version,
                            "versions": self.versions},
                "processes": [{"key": k, "name": n} for k, n in self.processes],
                "measure": self.measure, "xml": xml,
                "steps": [s.as_json() for s in self.steps],
                "scale": {m: [{"level": b.level, "from": b.low, "to": b.high, "text": b.text} for b in found]
                          for m, found in self.scale.items()}}


def _processes(f: Filters) -> tuple[list[tuple[str, str]], dict[str, list[int]]]:
    """The deployed processes, (key, name in the reader's language), the main process and the service
    coordination first; and each key's versions, newest first."""
    names: dict[str, str] = {}
    versions: dict[str, list[int]] = {}
    for key, number, name in f.versions:  # newest first within a key
        names.setdefault(key, bpmn_texts.label(key, name))
        versions.setdefault(key, []).append(number)
    order = sorted(names, key=lambda k: (FIRST.index(k) if k in FIRST else len(FIRST), names[k].lower(), k))
    return [(k, names[k]) for k in order], versions


def choose(f: Filters) -> tuple[str | None, int | None]:
    """The process and version asked for: `process` (a deployed key) and `version` (`key:version`, as on the
    other management pages; a version of another process, `latest` or `all` mean the newest). Without
    `process`, a `key:version` filter names the process; else the main process."""
    processes, versions = _processes(f)
    if not processes:
        return None, None
    asked = (request.args.get("process") or "").strip()
    key, _sep, number = f.version.rpartition(":")
    pinned = (key, int(number)) if key and number.isdigit() else None
    process = asked if asked in versions else (pinned[0] if pinned else processes[0][0])
    if pinned and pinned[0] == process and pinned[1] in versions[process]:
        return process, pinned[1]
    return process, versions[process][0]


def build(session: Session, staff: Staff, now: datetime) -> Heatmap:
    """The heatmap the request asks for, within what the person may see."""
    f = filters(session, staff)
    processes, versions = _processes(f)
    process, version = choose(f)
    asked = request.args.get("measure")
    measure = asked if asked in MEASURES and asked is not None else WAITING
    if process is None or version is None:
        return Heatmap(f, now, None, "", None, [], [], measure)
    at = summary_time(session)  # the scheduler's summary (casework.step_summary): nothing to cache here
    stalls = [s for s in step_stalls(session, now, f.scope, f"{process}:{version}")
              if s.process_key == process and s.version == version]
    top_waiting = max((s.waiting for s in stalls), default=0)
    top_age = max((int(s.age_p90.total_seconds()) for s in stalls), default=0)
    list_args: dict[str, Any] = {**f.args(False), "version": f"{process}:{version}"}  # as step_list reads it
    steps = [HeatStep(s, bpmn_texts.label(s.element_id, s.name), str(KIND_LABELS.get(s.kind, s.kind)),
                      level(s.waiting, top_waiting), level(int(s.age_p90.total_seconds()), top_age),
                      url_for("manage.step_list", process_key=s.process_key, element_id=s.element_id, **list_args))
             for s in sorted(stalls, key=lambda s: (-s.waiting, -s.age_p90, s.element_id))]
    return Heatmap(f, at, process, dict(processes)[process], version, processes, versions[process], measure, steps,
                   {WAITING: bands(top_waiting, WAITING), AGE: bands(top_age, AGE)})


def diagram_xml(session: Session, process_key: str, version: int) -> str | None:
    """The BPMN XML of one process version as deployed (kept in memory: a deployed version never changes)."""
    with _LOCK:
        if (process_key, version) in _XML:
            return _XML[(process_key, version)]
    deployment = session.scalar(select(Definition.deployment_id).where(Definition.key == process_key,
                                                                       Definition.version == version))
    found = process_diagram(session, deployment, process_key) if deployment is not None else None
    xml = found[1].decode("utf-8", errors="replace") if found else None
    with _LOCK:
        if len(_XML) >= _MAX_XML:
            _XML.clear()
        _XML[(process_key, version)] = xml
    return xml


@bp.app_template_global("manage_heatmap")
def manage_heatmap() -> Heatmap | None:
    """The heatmap of the current request for `_heatmap.html` included in another management page (None for
    someone who may not see it: the partial then shows nothing)."""
    staff = current_staff()
    if staff is None or not may_manage(staff):
        return None
    with _engine().db.read() as session:
        return build(session, staff, _engine().clock())


# -- routes ---------------------------------------------------------------------------------------------------
@bp.route("/heatmap")
@roles_required(*ROLES)
def heatmap() -> Any:
    """The chosen process version's diagram with the steps where cases wait coloured, and the same as a table."""
    staff = _manager_staff()
    with _engine().db.read() as session:
        found = build(session, staff, _engine().clock())
    return render_template("manage/heatmap.html", title=_("Where cases wait on the diagram"), heatmap=found,
                           f=found.f)


def _data(staff: Staff) -> Any:
    with _engine().db.read() as session:
        found = build(session, staff, _engine().clock())
        xml = diagram_xml(session, found.process_key, found.version) if found.process_key and found.version else None
    response = jsonify(found.as_json(xml))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/heatmap.json")
@roles_required(*ROLES)
def heatmap_data() -> Any:
    """The diagram and its steps' figures for the page's viewer (session only)."""
    return _data(_manager_staff())


@api.route("/heatmap")
@api_route
def api_heatmap() -> Any:
    """Where cases wait on one process version's diagram: its BPMN XML and the figures and colour level of each
    step where cases wait (no personal data)."""
    staff = api_staff()
    if not may_manage(staff):
        return json_error(403, "AuthorizationException", "only managers and team leads see the management figures")
    return _data(staff)


_BAND = {"type": "object", "properties": {
    "level": {"type": "integer", "minimum": 1, "maximum": LEVELS}, "from": {"type": "integer"},
    "to": {"type": "integer"}, "text": {"type": "string"}}}
_LEVEL = {"type": "object", "description": "the colour level (1-4) of the step by each measure",
          "properties": {WAITING: {"type": "integer"}, AGE: {"type": "integer"}}}
describe("manage_api.api_heatmap", parameters=[
    *FILTER_PARAMS,
    query("process", "the process key (default: the main process, or the process of a key:version filter)"),
    query("version", "processKey:version of that process (default, or another process's: its newest version)"),
    query("measure", "waiting (default) or age: which measure the caller means to colour by")],
    response={"type": "object", "properties": {
        "team": {"type": "string"}, "municipality": {"type": "string", "nullable": True},
        "asOf": AS_OF,
        "process": {"type": "object", "properties": {
            "key": {"type": "string", "nullable": True}, "name": {"type": "string"},
            "version": {"type": "integer", "nullable": True},
            "versions": {"type": "array", "items": {"type": "integer"}, "description": "newest first"}}},
        "processes": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "name": {"type": "string"}}}},
        "measure": {"type": "string", "enum": list(MEASURES)},
        "xml": {"type": "string", "nullable": True, "description": "the BPMN 2.0 XML of that version as deployed"},
        "steps": {"type": "array", "items": {"type": "object", "properties": {
            "elementId": {"type": "string"}, "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["task", "job", "timer", "message"]},
            "waiting": {"type": "integer"}, "cases": {"type": "integer"},
            "ageP50Seconds": {"type": "integer"}, "ageP90Seconds": {"type": "integer"},
            "ageMaxSeconds": {"type": "integer"}, "overdue": {"type": "integer"}, "level": _LEVEL,
            "text": {"type": "object", "description": "each measure's value as the badge shows it"},
            "label": {"type": "string"},
            "listUrl": {"type": "string", "description": "the page listing the cases waiting there"}}}},
        "scale": {"type": "object", "description": "the legend of each measure: the values of each level",
                  "properties": {WAITING: {"type": "array", "items": _BAND},
                                 AGE: {"type": "array", "items": _BAND}}}}})
