"""Changing process variables a running case already holds, in its own scope and in its called processes.

A called process gets copies of its caller's variables (`camunda:in`), and Camunda 7 changes them in a
called instance only when told to (RuntimeService.setVariables on that instance). A case whose called
processes keep a copy of, say, who is responsible must be able to change that copy everywhere at
once, in one case transaction, or the next task or message computed from it names the old value.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState

from engine.camunda import scope
from engine.camunda.script_engine import json_safe
from engine.errors import Conflict
from engine.models import CaseStatus

if TYPE_CHECKING:
    from engine.runtime import Engine

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def set_held_variables(engine: Engine, case_id: str, variables: Mapping[str, Any], actor: str | None = None) -> int:
    """Set each variable in every scope of the case (the process, each called process) whose open work holds it.

    A scope that does not hold the name is left alone: nothing new enters a called process that was not
    given it. Returns the number of scopes changed (0: nothing held any of the names, nothing is saved).
    """
    values = json_safe(dict(variables))
    changed = 0
    with engine.tx.open(case_id, actor) as ctx:
        if ctx.case.status != CaseStatus.ACTIVE:
            raise Conflict(f"case {case_id} is {ctx.case.status.value}")
        top = ctx.workflow
        for workflow in (top, *top.subprocesses.values()):
            if workflow is not top and not _is_called(top, workflow):
                continue  # an embedded subprocess shares its parent's scope: published with it
            held = _held(workflow, values)
            if held:
                # the scope's root task is never open, so publish() writes into every open task of the scope
                scope.publish(workflow.task_tree, held)
                changed += 1
        if changed:
            for workflow in (top, *top.subprocesses.values()):
                _into_parents(workflow, values)
    return changed


def _into_parents(workflow: Any, values: Mapping[str, Any]) -> None:
    """A waiting event takes its data from its finished predecessor again each time it is checked
    (SpiffWorkflow's update hook), so the predecessor of an open task that took a new value holds it too."""
    for task in workflow.tasks.values():
        parent = task.parent
        if not task._state & _OPEN or parent is None or not parent._state & TaskState.COMPLETED:
            continue
        for name, value in values.items():
            if task.data.get(name) == value and name in parent.data and parent.data[name] != value:
                parent.data[name] = deepcopy(value)


def _is_called(top: Any, workflow: Any) -> bool:
    from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity

    owner = top.get_task_from_id(workflow.parent_task_id)
    return owner is not None and isinstance(owner.task_spec, CallActivity)


def _held(workflow: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The names the scope's open work holds with another value."""
    held: dict[str, Any] = {}
    for task in workflow.tasks.values():
        if not task._state & _OPEN:
            continue
        view = scope.process_view(task)
        for name, value in values.items():
            if name in view and view[name] != value:
                held[name] = value
    return held
