"""What a case waits for, read from its workflow: human tasks, jobs, timers and messages.

Both the projections (engine/projections.py) and `polku simulate` describe waits through this
one module, so the inbox and a dry run agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import uuid5

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from engine.camunda.scope import process_view
from engine.camunda.specs.event_definitions import (
    CamundaCycleTimerEventDefinition,
    CamundaTimerEventDefinition,
    due_time,
)
from engine.camunda.specs.tasks import TRIGGER_KEY


@dataclass
class WaitItem:
    """One thing a case waits for; `kind` is userTask, job, timer, message or trigger (see engine/triggers.py)."""

    kind: str
    task: Any
    element_id: str
    name: str | None
    topic: str | None = None
    message: str | None = None
    due: datetime | None = None
    assignment: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The JSON shape used by `polku cases` and `polku simulate`."""
        out: dict[str, Any] = {"kind": self.kind, "id": self.element_id, "name": self.name}
        if self.topic is not None:
            out["topic"] = self.topic
        if self.message is not None:
            out["message"] = self.message
        if self.kind == "userTask":
            out["candidateGroups"] = self.assignment.get("candidateGroups") or []
            out["assignee"] = self.assignment.get("assignee")
            if self.assignment.get("dueDate"):
                out["due"] = self.assignment["dueDate"]
        elif self.due is not None:
            out["due"] = self.due.isoformat()
        return out

    @property
    def row_id(self) -> str:
        """The id of its projection row: the task's own, or derived from it when one task waits for several
        elements (an event-based gateway for its catch events, the process for its event subprocesses)."""
        if self.task.task_spec.bpmn_id == self.element_id:
            return str(self.task.id)
        return str(uuid5(self.task.id, self.element_id))


def all_tasks(workflow: Any) -> Iterator[Any]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _timer_and_messages(task: Any) -> Iterator[WaitItem]:
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    definitions = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    for index, d in enumerate(definitions):
        element = _catching_element(spec, index)
        if isinstance(d, CamundaTimerEventDefinition | CamundaCycleTimerEventDefinition):
            due = due_time(task)
            if due is not None:
                yield WaitItem("timer", task, element.bpmn_id, element.bpmn_name, due=due)
        elif isinstance(d, MessageEventDefinition):
            yield WaitItem("message", task, element.bpmn_id, element.bpmn_name, message=d.name)


def _catching_element(spec: Any, index: int) -> Any:
    """The element whose event the index-th definition is: at an event-based gateway, the catch event behind it.

    SpiffWorkflow moves the catch events' definitions onto the gateway, in the order of its outputs, and
    waits there; Camunda's timer jobs and message subscriptions belong to the catch events, and so do ours.
    """
    if isinstance(spec, EventBasedGateway) and index < len(spec.outputs):
        return spec.outputs[index]
    return spec


def open_work(workflow: Any) -> list[WaitItem]:
    """Every wait of the workflow and its subprocesses, in tree order."""
    items: list[WaitItem] = []
    for task in all_tasks(workflow):
        state = task._state
        spec = task.task_spec
        if state == TaskState.READY and spec.manual:
            items.append(WaitItem("userTask", task, spec.bpmn_id, spec.bpmn_name,
                                  assignment=task.internal_data.get("assignment", {})))
        elif state == TaskState.STARTED and "job" in task.internal_data:
            items.append(WaitItem("job", task, spec.bpmn_id, spec.bpmn_name, topic=getattr(spec, "topic", None)))
        elif state == TaskState.STARTED and TRIGGER_KEY in task.internal_data:
            items.append(WaitItem("trigger", task, spec.bpmn_id, spec.bpmn_name))
        elif state == TaskState.WAITING:
            items.extend(_timer_and_messages(task))
    items.extend(_event_subprocess_messages(workflow))
    return items


def _event_subprocess_messages(workflow: Any) -> Iterator[WaitItem]:
    """Message starts of event subprocesses: they wait while the case is active and not interrupted.

    Once an interrupting event subprocess has started, the process scope is interrupted and, as in
    Camunda, no other event subprocess of it can start.
    """
    if workflow.completed or _interrupted(workflow):
        return
    for name in workflow.spec.start.trigger_specs:
        sp_spec = workflow.subprocess_specs.get(name)
        if sp_spec is None:
            continue
        for start in sp_spec.bpmn_start_events:
            d = start.event_definition
            if isinstance(d, MessageEventDefinition):
                yield WaitItem("message", workflow.task_tree, start.bpmn_id, start.bpmn_name, message=d.name)


def _interrupted(workflow: Any) -> bool:
    return any(getattr(t.task_spec, "interrupting", False) and not t._state & TaskState.CANCELLED
               for t in workflow.task_tree.children if t.triggered)


def current_variables(workflow: Any) -> dict[str, Any]:
    """The case's variables now: the process variables of its open tasks (not their locals, engine/camunda/scope.py),
    or the data of its last task when it ended."""
    if workflow.completed or workflow.is_completed():
        end = workflow.last_task
        return dict(end.data) if end is not None else dict(workflow.data)
    merged: dict[str, Any] = {}
    for task in workflow.tasks.values():
        if task._state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            merged.update(process_view(task))
    if not merged and workflow.last_task is not None:
        merged.update(workflow.last_task.data)
    return merged
