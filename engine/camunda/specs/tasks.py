"""Task specs for Camunda Modeler elements that SpiffWorkflow runs differently or not at all."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent as _BoundaryEvent,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    CallActivity as _CallActivity,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    EndEvent as _EndEvent,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    EventSubprocess as _EventSubprocess,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    IntermediateCatchEvent as _IntermediateCatchEvent,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    IntermediateThrowEvent as _IntermediateThrowEvent,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    ManualTask as _ManualTask,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    NoneTask as _NoneTask,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    ReceiveTask as _ReceiveTask,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    ScriptTask as _ScriptTask,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    StartEvent as _StartEvent,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    SubWorkflowTask as _SubWorkflowTask,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    TransactionSubprocess as _TransactionSubprocess,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    UserTask as _UserTask,
)
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.util.task import TaskState

from engine.camunda import scope
from engine.camunda.specs.io_mapping import IoMappingMixin, Parameter, evaluate_value


class UserTask(IoMappingMixin, _UserTask):
    """A user task with Camunda's assignment attributes and generated form."""

    def __init__(self, wf_spec: Any, bpmn_id: str, *, assignment: dict[str, str] | None = None,
                 form: Any = None, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.assignment = assignment or {}
        self.form = form

    def _on_ready_hook(self, my_task: Any) -> None:
        super()._on_ready_hook(my_task)
        engine = my_task.workflow.script_engine
        my_task.internal_data["assignment"] = engine.evaluate_assignment(my_task, self.assignment)


class JobMixin:
    """Makes an element wait, STARTED, until a worker completes its job (see engine/jobs.py)."""

    def __init__(self, wf_spec: Any, bpmn_id: str, *, topic: str, implementation: str,
                 priority: str | None = None, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)  # type: ignore[call-arg]
        self.topic = topic
        self.implementation = implementation
        self.priority = priority

    def _run_hook(self, my_task: Any) -> None:
        engine = my_task.workflow.script_engine
        my_task.internal_data["job"] = {
            "topic": self.topic,
            "priority": engine.evaluate_priority(my_task, self.priority),
        }
        return None


class ExternalTask(JobMixin, IoMappingMixin, BpmnSpecMixin):
    """A service-like element run by a worker.

    Covers `camunda:type="external"` and, so that Python workers can implement them, Java
    delegates (`class`, `expression`, `delegateExpression`) and connectors: the topic is then the
    class name, the expression text or the connector id.
    """


class ExternalEndEvent(JobMixin, IoMappingMixin, _EndEvent):
    """A message end event implemented by a worker: the job runs, then the process ends there."""

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)
        close_idle_event_subprocesses(my_task.workflow)


class ExternalThrowEvent(ExternalTask):
    """An intermediate message throw event implemented by a worker."""


class BusinessRuleTask(IoMappingMixin, BpmnSpecMixin):
    """Evaluates a DMN decision of the same deployment and maps its result like Camunda does."""

    def __init__(self, wf_spec: Any, bpmn_id: str, *, decision_ref: str, result_variable: str | None,
                 map_decision_result: str | None, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision_ref = decision_ref
        self.result_variable = result_variable
        self.map_decision_result = map_decision_result

    def _run_hook(self, my_task: Any) -> bool:
        engine = my_task.workflow.script_engine
        result = engine.evaluate_decision(my_task, self.decision_ref, self.map_decision_result)
        my_task.data[self.result_variable or "decisionResult"] = result
        return True


class ScriptTask(IoMappingMixin, _ScriptTask):
    """A Python script task run in the sandbox; `camunda:resultVariable` keeps a last value."""

    def __init__(self, wf_spec: Any, bpmn_id: str, script: str, *, result_variable: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, script, **kwargs)
        self.result_variable = result_variable


class CallActivity(IoMappingMixin, _CallActivity):
    """A call activity passing only the variables named by `camunda:in` / `camunda:out`."""

    def __init__(self, wf_spec: Any, bpmn_id: str, subworkflow_spec: str, *,
                 in_mappings: tuple[dict[str, Any], ...] = (), out_mappings: tuple[dict[str, Any], ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.in_mappings = in_mappings
        self.out_mappings = out_mappings

    @staticmethod
    def _mapped(my_task: Any, mappings: tuple[dict[str, Any], ...], source: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for mapping in mappings:
            if mapping.get("variables") == "all":
                values.update(deepcopy(source))
            elif "source" in mapping:
                if mapping["source"] in source:
                    values[mapping["target"]] = deepcopy(source[mapping["source"]])
            elif "expression" in mapping:
                values[mapping["target"]] = evaluate_value(my_task, ("text", mapping["expression"]))
        return values

    def copy_data(self, my_task: Any, subworkflow: Any) -> None:
        self.enter(my_task)
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        start.set_data(**self._mapped(my_task, self.in_mappings, my_task.data))

    def update_data(self, my_task: Any, subworkflow: Any) -> None:
        source = subworkflow.last_task.data
        end_task = _Proxy(my_task, source)
        my_task.data.update(self._mapped(end_task, self.out_mappings, source))


class _Proxy:
    """A task stand-in whose data is the called process's final data (for `sourceExpression`)."""

    def __init__(self, task: Any, data: dict[str, Any]) -> None:
        self.workflow = task.workflow
        self.data = data
        self.task_spec = task.task_spec
        self.id = task.id


class EventSubprocess(IoMappingMixin, _EventSubprocess):
    """An event subprocess; when its start event is interrupting it cancels the main flow.

    The cancelling happens when the start event fires (see StartEvent), not when the subprocess is
    created: SpiffWorkflow creates timer-started event subprocesses together with the main flow.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, subworkflow_spec: str, *, interrupting: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.interrupting = interrupting

    def copy_data(self, my_task: Any, subworkflow: Any) -> None:
        """Start with the process variables as they are now (Camunda's process scope).

        Only the process variables seen are noted here: SpiffWorkflow creates a timer-started event
        subprocess with the main flow, too early to evaluate its input parameters, which are set when
        it becomes ready, as before.
        """
        scope.remember(my_task)
        data = {**_process_variables(my_task.workflow, my_task), **my_task.data}
        my_task.internal_data[SCOPE_AT_START] = deepcopy(data)
        start = subworkflow.get_next_task(spec_name="Start")
        start.set_data(**deepcopy(data))

    def update_data(self, my_task: Any, subworkflow: Any) -> None:
        """What the event subprocess changed becomes visible to the rest of the process."""
        super().update_data(my_task, subworkflow)
        before = my_task.internal_data.pop(SCOPE_AT_START, {})
        changed = {k: v for k, v in scope.process_view(my_task).items() if k not in before or before[k] != v}
        scope.publish(my_task, changed)  # also when started before its inner tasks published their own changes


SCOPE_AT_START = "scope_at_start"  # internal data: process variables when an event subprocess started


def _process_variables(workflow: Any, exclude: Any) -> dict[str, Any]:
    """The variables of the process's open work (not of other event subprocesses)."""
    merged: dict[str, Any] = {}
    for task in workflow.tasks.values():
        if task is not exclude and not task.triggered and task._state & _ACTIVE:
            merged.update(scope.process_view(task))
    return merged


def _event_subprocess_task(my_task: Any) -> Any:
    """The event subprocess task whose subworkflow `my_task` belongs to, if any."""
    workflow = my_task.workflow
    if workflow is workflow.top_workflow:
        return None
    parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
    return parent if parent is not None and isinstance(parent.task_spec, EventSubprocess) else None


_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _event_subprocess_started(task: Any) -> bool:
    """True once the event subprocess's start event has fired (SpiffWorkflow creates timer ones early)."""
    sub = task.workflow.top_workflow.subprocesses.get(task.id)
    if sub is None:
        return False
    return any(isinstance(t.task_spec, StartEvent) and t.state == TaskState.COMPLETED for t in sub.tasks.values())


def close_idle_event_subprocesses(workflow: Any) -> None:
    """When a scope's flow has ended, event subprocesses still waiting for their start end with it.

    Camunda ends a process (or subprocess) when its last token is consumed; the subscriptions of
    its event subprocesses go with it. SpiffWorkflow keeps a timer-started event subprocess as a
    parallel branch, so without this the scope would wait for the timer and then run it.
    """
    idle = []
    for task in workflow.tasks.values():
        if not task.has_state(_ACTIVE):
            continue
        spec = task.task_spec
        if isinstance(spec, _EndJoin) or spec is workflow.spec.end:
            continue
        if isinstance(spec, EventSubprocess) and not _event_subprocess_started(task):
            idle.append(task)
            continue
        return  # work is still going on in this scope
    for task in idle:
        task.cancel()


def _cancel_others(my_task: Any) -> None:
    """Cancel every unfinished task of the workflow except this event subprocess, its ancestors and its
    descendants (the branch to the scope's End, by which the scope completes when the handler is done)."""
    keep = {t.id for t in _subtree(my_task)}
    parent = my_task.parent
    while parent is not None:
        keep.add(parent.id)
        parent = parent.parent
    workflow = my_task.workflow
    for task in list(workflow.tasks.values()):
        if task.id in keep or task.id not in workflow.tasks:
            continue
        if task.has_state(TaskState.NOT_FINISHED_MASK) and not task.has_state(TaskState.PREDICTED_MASK):
            if isinstance(task.task_spec, EventSubprocess) or task.triggered:
                continue
            task.cancel()
            subprocess = workflow.top_workflow.subprocesses.get(task.id)
            if subprocess is not None:
                workflow.top_workflow.cancel(subprocess)


def _subtree(task: Any) -> list[Any]:
    found, stack = [], [task]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


class SubWorkflowTask(IoMappingMixin, _SubWorkflowTask):
    """An embedded subprocess: it shares the process scope; its input parameters are local to it."""

    def copy_data(self, my_task: Any, subworkflow: Any) -> None:
        self.enter(my_task)
        super().copy_data(my_task, subworkflow)


class TransactionSubprocess(IoMappingMixin, _TransactionSubprocess):
    def copy_data(self, my_task: Any, subworkflow: Any) -> None:
        self.enter(my_task)
        super().copy_data(my_task, subworkflow)


class ManualTask(IoMappingMixin, _ManualTask):
    """Camunda passes through manual tasks (the work happens outside the engine); SpiffWorkflow waits."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class NoneTask(IoMappingMixin, _NoneTask):
    """An abstract `bpmn:task`: Camunda passes through it; SpiffWorkflow would wait for a person."""

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class ReceiveTask(IoMappingMixin, _ReceiveTask):
    pass


TRIGGER_KEY = "trigger"  # internal data: the receive task waits for Engine.trigger (see engine/triggers.py)


class TriggeredReceiveTask(IoMappingMixin, BpmnSpecMixin):
    """A receive task without a message: a wait state, continued through the API like Camunda's `signal`.

    SpiffWorkflow gives it no event to wait for, so it would pass straight through; it waits STARTED
    instead, as a job does, until `Engine.trigger` completes it.
    """

    def _run_hook(self, my_task: Any) -> None:
        my_task.internal_data[TRIGGER_KEY] = True
        return None


class StartEvent(IoMappingMixin, _StartEvent):
    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)
        parent = _event_subprocess_task(my_task)
        if parent is None:
            return
        _refresh_scope(my_task, parent)
        if parent.task_spec.interrupting:
            _cancel_others(parent)


def _refresh_scope(start: Any, parent: Any) -> None:
    """The event subprocess starts with the process variables as they are when its event fires.

    SpiffWorkflow may create the subprocess long before (when the scope starts, to wait for its
    message or timer), so the copy taken then is stale; what the event itself carried wins.
    """
    before = parent.internal_data.get(SCOPE_AT_START, {})
    payload = {k: v for k, v in start.data.items() if k not in before or before[k] != v}
    scope = _process_variables(parent.workflow, parent)
    parent.internal_data[SCOPE_AT_START] = deepcopy(scope)
    start.data = deepcopy({**scope, **payload})


class EndEvent(IoMappingMixin, _EndEvent):
    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)
        close_idle_event_subprocesses(my_task.workflow)


class IntermediateCatchEvent(IoMappingMixin, _IntermediateCatchEvent):
    pass


class IntermediateThrowEvent(IoMappingMixin, _IntermediateThrowEvent):
    pass


class BoundaryEvent(IoMappingMixin, _BoundaryEvent):
    pass


__all__ = [
    "BoundaryEvent", "BusinessRuleTask", "CallActivity", "EndEvent", "EventSubprocess",
    "ExternalEndEvent", "ExternalTask", "ExternalThrowEvent", "IntermediateCatchEvent",
    "IntermediateThrowEvent", "ManualTask", "NoneTask", "Parameter", "ReceiveTask", "ScriptTask",
    "StartEvent", "SubWorkflowTask", "TransactionSubprocess", "TriggeredReceiveTask", "UserTask",
]
