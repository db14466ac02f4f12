"""Where a case is on its diagram: the elements active now, the path it took, its waiting timers, and the
same for every instance it called (a call activity's process), read from the engine's own tables.

The history table holds one row per element instance but not which process instance (the case's own
process or one called instance) ran it; the saved state does, for the tasks it still holds. So each row
goes to the instance whose saved state holds its task; a row the pruning (engine/pruning.py) has since
dropped from the state goes to the process whose diagram has the element, and, for a called process, to
the one call instance that ran while the row started (several instances running at once each get an
element only when every one of them passed it as often; otherwise none claims it: the path drawn may
then miss a step, it never shows one a case did not take). Sequence flows are read from the diagram: a
flow was taken when its source completed and its target was reached.

Client-free: no names, no casework; the web app adds what a call instance is about.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import aware
from engine.models import Case, CaseStatus, Definition, HistoryEvent, Resource, Task, TaskStatus, Timer

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ACTIVE = "active"
COMPLETED = "completed"
_NOT_ELEMENTS = {"sequenceFlow", "laneSet", "lane", "extensionElements", "documentation", "incoming", "outgoing",
                 "multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "association",
                 "textAnnotation", "dataInputAssociation", "dataOutputAssociation", "ioSpecification"}


@dataclass(frozen=True)
class ProcessShape:
    """What one process of a diagram file holds: its elements, sequence flows and call activities."""

    process_id: str
    resource: str
    elements: frozenset[str]
    flows: tuple[tuple[str, str, str], ...]  # (flow id, source, target)
    calls: dict[str, str]  # call activity id -> called process id
    names: dict[str, str] = field(default_factory=dict)  # element id -> its name in the diagram

    def flows_taken(self, completed: set[str], reached: set[str]) -> list[str]:
        """Flows whose source completed and whose target was reached (diagram order)."""
        return [flow for flow, source, target in self.flows if source in completed and target in reached]


@dataclass(frozen=True)
class Step:
    """An element the instance is at now: since when, and the due date of its human task, if any."""

    element_id: str
    name: str | None
    kind: str
    since: datetime
    due: datetime | None = None
    assignee: str | None = None


@dataclass(frozen=True)
class TimerWait:
    element_id: str
    due: datetime


@dataclass
class InstancePath:
    """One process instance of a case: the case's own process (`instance_id` = case id) or a called one
    (`instance_id` = the call activity instance's id, `called_from` its element in `parent_id`)."""

    instance_id: str
    process_key: str
    parent_id: str | None = None
    called_from: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    active: list[Step] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    timers: list[TimerWait] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)  # what the caller passed in (camunda:in), scalars only

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def active_ids(self) -> list[str]:
        return list(dict.fromkeys(s.element_id for s in self.active))


@dataclass
class CasePath:
    case_id: str
    business_key: str | None
    status: CaseStatus
    definition_id: int
    deployment_id: int
    instances: dict[str, InstancePath]  # the case's own first, then the called ones in the order they started

    @property
    def top(self) -> InstancePath:
        return self.instances[self.case_id]

    def called(self, parent_id: str | None = None) -> list[InstancePath]:
        """The called instances (of `parent_id` only, when given)."""
        return [i for i in self.instances.values()
                if i.parent_id is not None and (parent_id is None or i.parent_id == parent_id)]


# -- diagrams ---------------------------------------------------------------------------------------------
_SHAPES: dict[str, tuple[ProcessShape, ...]] = {}  # by resource content hash: deployed files never change
_MAX_SHAPES = 256


def _shapes(digest: str, name: str, content: bytes) -> tuple[ProcessShape, ...]:
    """The processes of one deployed diagram file."""
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ()
    out = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        elements: set[str] = set()
        flows: list[tuple[str, str, str]] = []
        calls: dict[str, str] = {}
        names: dict[str, str] = {}
        for node in process.iter():
            if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN_NS}}}") or node is process:
                continue
            local = etree.QName(node).localname
            ident = node.get("id")
            if local == "sequenceFlow" and ident:
                flows.append((ident, node.get("sourceRef", ""), node.get("targetRef", "")))
            elif ident and local not in _NOT_ELEMENTS and not local.endswith("EventDefinition"):
                elements.add(ident)
                if node.get("name"):
                    names[ident] = str(node.get("name"))
                if local == "callActivity" and node.get("calledElement"):
                    calls[ident] = str(node.get("calledElement"))
        out.append(ProcessShape(str(process.get("id")), name, frozenset(elements), tuple(flows), calls, names))
    return tuple(out)


def _deployment_shapes(session: Session, deployment_id: int) -> dict[str, ProcessShape]:
    """The processes of a deployment's diagram files by process id (each file parsed once per process)."""
    rows = session.execute(select(Resource.id, Resource.name, Resource.hash).where(
        Resource.deployment_id == deployment_id, Resource.name.like("%.bpmn")).order_by(Resource.id)).all()
    out: dict[str, ProcessShape] = {}
    for resource_id, name, digest in rows:
        shapes = _SHAPES.get(digest)
        if shapes is None:
            content = session.scalar(select(Resource.content).where(Resource.id == resource_id)) or b""
            shapes = _shapes(digest, name, bytes(content))
            if len(_SHAPES) >= _MAX_SHAPES:
                _SHAPES.clear()
            _SHAPES[digest] = shapes
        for shape in shapes:
            out.setdefault(shape.process_id, shape)
    return out


def _diagram_of(session: Session, deployment_id: int, process_key: str) -> tuple[ProcessShape, bytes] | None:
    shape = _deployment_shapes(session, deployment_id).get(process_key)
    if shape is None:
        return None
    content = session.scalar(select(Resource.content).where(Resource.deployment_id == deployment_id,
                                                            Resource.name == shape.resource).limit(1))
    return (shape, bytes(content)) if content is not None else None


def process_diagram(session: Session, deployment_id: int, process_key: str) -> tuple[ProcessShape, bytes] | None:
    """The diagram file (as deployed) that holds `process_key`: from the case's own deployment, else from the
    newest deployment of that key."""
    found = _diagram_of(session, deployment_id, process_key)
    if found is not None:
        return found
    other = session.scalar(select(Definition.deployment_id).where(Definition.key == process_key)
                           .order_by(Definition.version.desc()).limit(1))
    if other is None or other == deployment_id:
        return None
    return _diagram_of(session, other, process_key)


# -- the saved state --------------------------------------------------------------------------------------
@dataclass
class _Scope:
    """A workflow in the saved state: the top one (id = case id) or a subprocess (id = its owner task's id)."""

    spec: str
    parent_task: str | None
    tasks: dict[str, dict[str, Any]]
    completed: bool


def _state_scopes(case: Case) -> dict[str, _Scope]:
    """The workflows of the saved state; empty when it cannot be read (the path then comes from history)."""
    try:
        state = json.loads(case.state) if case.state else {}
        scopes = {case.id: _Scope("", None, dict(state.get("tasks") or {}), bool(state.get("completed")))}
        for sub_id, sub in (state.get("subprocesses") or {}).items():
            scopes[str(sub_id)] = _Scope(str(sub.get("spec") or ""), str(sub.get("parent_task_id") or ""),
                                         dict(sub.get("tasks") or {}), bool(sub.get("completed")))
        return scopes
    except (ValueError, TypeError, AttributeError):
        return {}


def _scalars(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None}


# -- the path ---------------------------------------------------------------------------------------------
def case_path(session: Session, case_id: str, with_flows: bool = True) -> CasePath | None:
    """Where the case and each instance it called are, and the way they came (None: no such case)."""
    row = session.execute(select(Case, Definition).join(Definition).where(Case.id == case_id)).one_or_none()
    if row is None:
        return None
    case, definition = row
    shapes = _deployment_shapes(session, definition.deployment_id)
    top_shape = shapes.get(definition.key)
    result = CasePath(case.id, case.business_key, case.status, definition.id, definition.deployment_id,
                      {case.id: InstancePath(case.id, definition.key, started_at=aware(case.created_at),
                                             ended_at=aware(case.ended_at))})
    history = list(session.scalars(select(HistoryEvent).where(HistoryEvent.case_id == case_id)
                                   .order_by(HistoryEvent.id)))
    scopes = _state_scopes(case)

    # the called instances: one per call activity instance, in the order they started
    call_rows = [h for h in history
                 if h.element_type.endswith("CallActivity") and "MultiInstance" not in h.element_type]
    owner_of_task: dict[str, str] = {}  # spiff task id -> instance id
    for scope_id, scope in scopes.items():
        for task_id in scope.tasks:
            owner_of_task[task_id] = scope_id
    embedded: dict[str, str] = {}  # subprocess id -> the scope it is drawn in (event and embedded subprocesses)

    def instance_of_scope(scope_id: str) -> str:
        seen = 0
        while scope_id in embedded and seen < 50:
            scope_id, seen = embedded[scope_id], seen + 1
        return scope_id

    called_ids = {h.task_id for h in call_rows}
    for scope_id, scope in scopes.items():
        if scope_id != case.id and scope_id not in called_ids and scope.parent_task:
            embedded[scope_id] = owner_of_task.get(scope.parent_task, case.id)
    for call in call_rows:
        parent = instance_of_scope(owner_of_task.get(call.task_id, "")) if call.task_id in owner_of_task else None
        parent_key = result.instances[parent].process_key if parent in result.instances else None
        if parent is None:  # pruned from the state: the process whose diagram has the call activity
            parent = next((i.instance_id for i in result.instances.values()
                           if (s := shapes.get(i.process_key)) and call.element_id in s.elements), case.id)
            parent_key = result.instances[parent].process_key
        sub = scopes.get(call.task_id)
        parent_shape = shapes.get(parent_key or "")
        called_key = (sub.spec if sub and sub.spec else
                      (parent_shape.calls.get(call.element_id, "") if parent_shape else ""))
        ended = aware(call.ended_at) if call.state != ACTIVE else None
        instance = InstancePath(call.task_id, called_key, parent, call.element_id, aware(call.started_at), ended)
        if sub is not None:
            start = next((t for t in sub.tasks.values() if t.get("task_spec") == "Start"), None)
            instance.inputs = _scalars(start.get("data") if start else None)
        result.instances[call.task_id] = instance

    # each history row to its instance
    rows_of: dict[str, list[HistoryEvent]] = {i: [] for i in result.instances}
    pruned: list[HistoryEvent] = []
    for h in history:
        if h.task_id in owner_of_task:
            rows_of.setdefault(instance_of_scope(owner_of_task[h.task_id]), []).append(h)
        else:
            pruned.append(h)
    _attribute_pruned(result, shapes, pruned, rows_of, top_shape)

    open_tasks = {t.id: t for t in session.scalars(select(Task).where(Task.case_id == case_id,
                                                                         Task.status == TaskStatus.OPEN))}
    for instance_id, rows in rows_of.items():
        found = result.instances.get(instance_id)
        if found is None:
            continue
        instance = found
        completed: dict[str, float] = {}
        active: dict[str, Step] = {}
        shape = shapes.get(instance.process_key)
        names = shape.names if shape is not None else {}
        for h in sorted(rows, key=lambda r: r.id):
            if h.state == COMPLETED:
                completed.setdefault(h.element_id, h.ended_seq or 0.0)
            elif h.state == ACTIVE and h.element_type.endswith("BoundaryEvent"):
                continue  # an attached event waiting beside its activity: a timer or a message, not a step
            elif h.state == ACTIVE and h.element_id not in active:
                task = open_tasks.get(h.task_id)
                active[h.element_id] = Step(h.element_id, h.element_name or names.get(h.element_id), h.element_type,
                                            aware(h.started_at),
                                            aware(task.due) if task else None, task.assignee if task else None)
            elif h.state == ACTIVE and h.task_id in open_tasks:  # the user task behind a wrapper row
                task = open_tasks[h.task_id]
                active[h.element_id] = Step(h.element_id, h.element_name or names.get(h.element_id),
                                            h.element_type, active[h.element_id].since, aware(task.due), task.assignee)
        instance.completed = list(completed)
        instance.active = sorted(active.values(), key=lambda s: (s.since, s.element_id))
        if with_flows and shape is not None:
            instance.flows = shape.flows_taken(set(completed), set(completed) | set(active))

    # waiting timers: a timer row's id is its task's id, or derived from it for the element it waits for
    for timer in session.scalars(select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id)):
        owner = owner_of_task.get(timer.id)
        if owner is None:
            owner = next((owner_of_task[t] for t in owner_of_task
                          if _derived(t, timer.element_id) == timer.id), case.id)
        instance = result.instances.get(instance_of_scope(owner)) or result.top
        instance.timers.append(TimerWait(timer.element_id, aware(timer.due_at)))
    return result


def _derived(task_id: str, element_id: str) -> str | None:
    try:
        return str(uuid5(UUID(task_id), element_id))
    except ValueError:
        return None


def _attribute_pruned(result: CasePath, shapes: dict[str, ProcessShape], pruned: list[HistoryEvent],
                      rows_of: dict[str, list[HistoryEvent]], top_shape: ProcessShape | None) -> None:
    """Rows whose task the state no longer holds: to the instance that ran then (see the module's docstring)."""
    by_key: dict[str, list[InstancePath]] = {}
    for instance in result.called():
        by_key.setdefault(instance.process_key, []).append(instance)
    shared: dict[tuple[str, ...], list[HistoryEvent]] = {}
    for h in pruned:
        if top_shape is None or h.element_id in top_shape.elements or not by_key:
            rows_of[result.case_id].append(h)
            continue
        key = next((k for k in by_key if (s := shapes.get(k)) and h.element_id in s.elements), None)
        if key is None:
            rows_of[result.case_id].append(h)
            continue
        started = aware(h.started_at)
        candidates = [i for i in by_key[key] if i.started_at is not None and i.started_at <= started
                      and (i.ended_at is None or started <= i.ended_at)]
        if len(candidates) == 1:
            rows_of[candidates[0].instance_id].append(h)
        elif candidates:
            shared.setdefault(tuple(i.instance_id for i in candidates), []).append(h)
    for instance_ids, rows in shared.items():
        counts = Counter(h.element_id for h in rows if h.state == COMPLETED)
        for h in rows:
            if h.state == COMPLETED and counts[h.element_id] >= len(instance_ids):
                for instance_id in instance_ids:
                    rows_of[instance_id].append(h)
