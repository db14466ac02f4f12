"""Parsed process specs are shared: every case of a definition version in a process runs on the same objects.

SpiffWorkflow expects each workflow to carry its own spec (it serializes the spec with the workflow),
and links some task specs lazily, on the spec, while a workflow runs:
- a multi-instance task connects its instance spec's `completed_event` to its `merge_child` when it
  creates its first instance; Spiff's spec converter makes that connection again when it restores a
  spec, but Polku re-attaches freshly parsed specs, so in a process that did not create the instances
  (after a restart, or in a worker process) finished instances were never merged and the case stalled;
- a start event connects a message-started event subprocess (its start task's `trigger_specs`) to the
  process when the message arrives: in a fresh process the restored event subprocess had no input and
  failed ("No input task connected"); in the process that received the message every later case's
  start task got the event subprocess as an ordinary branch, a second subscription to the message.

`link` makes those links once, when a definition is parsed and before any case sees the specs, so no
running case changes them: the instance specs are connected, and each triggered event subprocess gets
its input (the start task) and its way to the end, without becoming an output of the start task.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import BpmnStartTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask


def link(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    """Make the links SpiffWorkflow would otherwise add while cases run (idempotent)."""
    for process_spec in (spec, *subprocess_specs.values()):
        if process_spec is not None:
            _link_process(process_spec)


def _link_process(spec: Any) -> None:
    for task_spec in list(spec.task_specs.values()):
        if isinstance(task_spec, LoopTask):
            instance = spec.task_specs.get(task_spec.task_spec)
            if instance is not None and not instance.completed_event.is_connected(task_spec.merge_child):
                instance.completed_event.connect(task_spec.merge_child)
        if isinstance(task_spec, BpmnStartTask):
            for name in task_spec.trigger_specs:
                _link_trigger(spec, task_spec, spec.task_specs[name])


def _link_trigger(spec: Any, start: Any, triggered: Any) -> None:
    """What BpmnStartTask.trigger_wf connects, except the start task's output (which would start it at once)."""
    if start.name in triggered._inputs:
        return
    triggered._inputs.append(start.name)
    if spec.end.name not in triggered._outputs:
        triggered._outputs.append(spec.end.name)
        spec.end._inputs.append(triggered.name)
