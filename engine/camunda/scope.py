"""Camunda's process scope on top of SpiffWorkflow's per-task data.

Camunda keeps a process instance's variables in one scope: what one path of a parallel flow sets
(a non-interrupting boundary path, a gateway branch, an event subprocess) every other token sees at
once, and a join cannot bring back an older value. SpiffWorkflow gives each task its own copy of
the data, copied from its parent and merged at joins, so a change reaches the other branches only
when they join. Here a task remembers, when it becomes ready, a fingerprint of each process
variable it sees; when it completes, what it changed (set or removed) is written into every other
open task of its scope and into the ends of the branches already waiting at a join, so every token
carries the current variables (engine/camunda/specs/gateways.py then merges agreeing branches).

A scope is a process with its embedded subprocesses and event subprocesses; a called process has
its own (`camunda:in`/`out` map between them, engine/camunda/specs/tasks.py). Local variables stay
local: input parameters (engine/camunda/specs/io_mapping.py) while their activity runs, a
multi-instance element variable in its instance, and SpiffWorkflow's hidden `_mi_*` collections.
A task that became ready before this module existed has no fingerprints and publishes nothing, as
before.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from copy import deepcopy
from hashlib import blake2b
from typing import Any
from weakref import WeakKeyDictionary

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

from engine.camunda.specs.gateways import this_pass

SEEN = "scope_seen"  # internal data: fingerprint of each process variable as the task last saw it
SHADOWED = "io_shadowed"  # internal data: process variables hidden by same-named input parameters
HIDDEN_PREFIX = "_mi_"  # multi-instance collections kept in task data (engine/camunda/specs/multiinstance.py)

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.FUTURE
_ARRIVED = TaskState.WAITING | TaskState.FINISHED_MASK  # join instances whose branch got there
_SCALARS = (str, int, float, bool, type(None))
_MISSING = object()
_RECEIVED: WeakKeyDictionary[Any, set[Any]] = WeakKeyDictionary()  # top workflow -> task ids, while it is loaded


def fingerprint(value: Any) -> str:
    """A short stand-in for a value: equal values give equal fingerprints, almost always (a false 'changed'
    only republishes a value that every open task already holds; pickle is ~10x faster than sorted JSON)."""
    if isinstance(value, _SCALARS):
        text = repr(value)
        if len(text) <= 40:
            return text
        data = text.encode()
    else:
        try:
            data = pickle.dumps(value, protocol=5)  # only ever dumped and hashed, never loaded
        except Exception:  # noqa: BLE001 - anything unpicklable is compared by its repr
            data = repr(value).encode()
    return blake2b(data, digest_size=8).hexdigest()


def element_variable(task: Any) -> str | None:
    """The element variable when the task is an instance of a multi-instance activity."""
    parent = task.parent
    if parent is None:
        return None
    spec = parent.task_spec
    if not isinstance(spec, MultiInstanceTask) or spec.task_spec != task.task_spec.name:
        return None
    item = spec.input_item
    return item.bpmn_id if item is not None else None


def local_names(task: Any) -> set[str]:
    """Names that are the task's own now: its input parameters while it runs, its element variable."""
    names: set[str] = set()
    if SHADOWED in task.internal_data:
        names.update(p.name for p in getattr(task.task_spec, "input_parameters", ()))
    item = element_variable(task)
    if item is not None:
        names.add(item)
    return names


def _is_process_variable(name: str, local: set[str]) -> bool:
    return name not in local and not name.startswith(HIDDEN_PREFIX)


def process_view(task: Any) -> dict[str, Any]:
    """The process variables as the task sees them: its data without its locals, with what they shadow."""
    local = local_names(task)
    view = {k: v for k, v in task.data.items() if _is_process_variable(k, local)}
    shadowed = task.internal_data.get(SHADOWED)
    if shadowed:
        view.update(shadowed)
    return view


def remember(task: Any) -> None:
    """Fingerprint the process variables the task starts with (before its input parameters are set)."""
    local = local_names(task)
    task.internal_data[SEEN] = {k: fingerprint(v) for k, v in task.data.items() if _is_process_variable(k, local)}


def publish_changes(task: Any) -> None:
    """Publish what the completing task changed since it became ready (after its locals were removed)."""
    seen = task.internal_data.pop(SEEN, None)
    if seen is None:
        return
    local = local_names(task)
    changed = {k: v for k, v in task.data.items() if _is_process_variable(k, local) and seen.get(k) != fingerprint(v)}
    removed = [k for k in seen if k not in task.data and k not in local]
    publish(task, changed, removed)


def publish(source: Any, changed: Mapping[str, Any], removed: Iterable[str] = ()) -> None:
    """Write changes made by `source` into every other open task of its scope and the ends waiting at joins."""
    gone = [k for k in removed if k not in changed]
    if not changed and not gone:
        return
    members = _members(source.workflow)
    # A name local to an enclosing subprocess (its input parameter, its element variable) stays inside it.
    inner: dict[str, Any] = {}
    for enclosing in members[id(source.workflow)][1]:
        for name in local_names(enclosing):
            inner[name] = enclosing
    updates: list[tuple[str, Any, str | None]] = [(k, v, fingerprint(v)) for k, v in changed.items()]
    updates.extend((k, _MISSING, None) for k in gone)
    for workflow, chain in members.values():
        for task in workflow.tasks.values():
            if task is source or not task._state & _OPEN or _inherits_later(task):
                continue
            for name, value, fp in updates:
                owner: Any = inner.get(name)
                if owner is task:
                    _write(task.data, name, value)  # the enclosing subprocess's own local
                elif owner is None or owner in chain:
                    _receive(task, name, value, fp)
        for end in _arrived_ends(workflow):
            for name, value, _fp in updates:
                if inner.get(name) is None or inner[name] in chain:
                    _write(end.data, name, value)


def _inherits_later(task: Any) -> bool:
    """A FUTURE task below open work takes its data from its parent when it is reached: no copy needed."""
    if task._state != TaskState.FUTURE:
        return False
    parent = task.parent
    return parent is not None and bool(parent._state & _OPEN)


def _receive(task: Any, name: str, value: Any, fp: str | None) -> None:
    """Take another task's change, keeping the task's own locals."""
    if name == element_variable(task) or name == _collection_item(task):
        return
    shadowed = task.internal_data.get(SHADOWED)
    if shadowed is not None and any(p.name == name for p in task.task_spec.input_parameters):
        _write(shadowed, name, value)
    else:
        _write(task.data, name, value)
    _RECEIVED.setdefault(task.workflow.top_workflow, set()).add(task.id)
    seen = task.internal_data.get(SEEN)
    if seen is not None:
        if fp is None:
            seen.pop(name, None)
        else:
            seen[name] = fp


def received(workflow: Any) -> set[Any]:
    """Ids of the open tasks whose data took another task's change since the case was loaded (projections
    refresh what such a waiting job hands its worker)."""
    return _RECEIVED.get(workflow.top_workflow, set())


def _write(data: dict[str, Any], name: str, value: Any) -> None:
    if value is _MISSING:
        data.pop(name, None)
    else:
        data[name] = deepcopy(value)


def _collection_item(task: Any) -> str | None:
    """A running multi-instance activity's element variable: SpiffWorkflow refuses one in the activity's data."""
    spec = task.task_spec
    if isinstance(spec, MultiInstanceTask) and spec.input_item is not None:
        return str(spec.input_item.bpmn_id)
    return None


def _arrived_ends(workflow: Any) -> Iterator[Any]:
    """The last tasks of branches that reached a join still waiting for others: the join merges their data."""
    seen: set[Any] = set()
    for task in list(workflow.tasks.values()):
        if task._state & TaskState.WAITING and isinstance(task.task_spec, UnstructuredJoin):
            for instance in this_pass(task):
                if not instance._state & _ARRIVED:
                    continue
                end = instance.parent
                if end is not None and end.id not in seen and end._state & TaskState.COMPLETED:
                    seen.add(end.id)
                    yield end


def _members(workflow: Any) -> dict[int, tuple[Any, tuple[Any, ...]]]:
    """The workflows sharing `workflow`'s scope, keyed by id(), each with the subprocess tasks enclosing it."""
    top = workflow.top_workflow
    if not top.subprocesses:
        return {id(top): (top, ())}
    owners = {id(sub): top.get_task_from_id(sub.parent_task_id) for sub in top.subprocesses.values()}

    def place(wf: Any) -> tuple[Any, tuple[Any, ...]]:
        chain: list[Any] = []
        while wf is not top:
            owner = owners.get(id(wf))
            if owner is None or isinstance(owner.task_spec, CallActivity):
                break  # a called process is a scope of its own
            chain.append(owner)
            wf = owner.workflow
        return wf, tuple(reversed(chain))

    root = place(workflow)[0]
    members: dict[int, tuple[Any, tuple[Any, ...]]] = {}
    for wf in (top, *top.subprocesses.values()):
        scope_root, chain = place(wf)
        if scope_root is root:
            members[id(wf)] = (wf, chain)
    return members
