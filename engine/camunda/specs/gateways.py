"""Parallel and inclusive joins that work inside loops and merge branch data the way Camunda does.

Stock SpiffWorkflow 3.2 gets two things wrong when a parallel (or inclusive) gateway joins
branches, both visible in loops (tests/engine/test_pruning.py):

* A parallel join counts its instances from earlier passes of a loop as arrived, so from the
  second pass on it can fire when the first branch arrives. Here only instances of the current
  pass count: those below the last instance of this join that fired (the previous pass). (The
  inclusive join stops looking at the first instance it meets; pruning, engine/pruning.py, takes
  the earlier passes out of its way.)
* Both merge the branches' whole data, the last-arriving branch winning, so a variable that one
  branch changed is overwritten by the stale copy the other branch carried since the split.
  Camunda's variables are shared, so the branch that wrote a variable wins. Here each branch
  contributes what it changed (set or removed) compared with the split, in arrival order. With the
  process scope (engine/camunda/scope.py) every branch, the arrived ones included, already holds
  the current variables; the merge still matters for branches split before it was saved.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway as _InclusiveGateway
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway as _ParallelGateway
from SpiffWorkflow.util.task import TaskState


def last_fired(my_task: Any) -> Any:
    """The nearest ancestor that is a fired (completed) instance of the same join: the previous pass."""
    spec, parent = my_task.task_spec, my_task.parent
    while parent is not None:
        if parent.task_spec is spec and parent.state == TaskState.COMPLETED:
            return parent
        parent = parent.parent
    return None


def this_pass(my_task: Any) -> list[Any]:
    """Every instance of my_task's join spec in the current pass of a loop (my_task included)."""
    spec = my_task.task_spec
    previous = last_fired(my_task)
    return [t for t in my_task.workflow.tasks.values()
            if t.task_spec is spec and (previous is None or t is my_task or t.is_descendant_of(previous))]


def merge_branches(my_task: Any) -> None:
    """Set the join's data: the split's data with what each arrived branch changed, in arrival order."""
    arrived = sorted((t for t in this_pass(my_task)
                      if t is not my_task and t.has_state(TaskState.FINISHED_MASK) and t.parent is not None
                      and not my_task.is_descendant_of(t)), key=lambda t: t.last_state_change)
    for task in arrived:
        if task.has_state(TaskState.COMPLETED):  # as stock: only after a reset can another instance have run
            task._drop_children(force=True)
    ends = [t.parent for t in arrived] + [my_task.parent]
    base = _fork(my_task, arrived).data
    data = {key: copy(value) for key, value in base.items()}
    for end in ends:
        for key, value in end.data.items():
            if key not in base or base[key] != value:
                data[key] = copy(value)
        for key in base:
            if key not in end.data:
                data.pop(key, None)
    my_task.data = data


def _fork(my_task: Any, arrived: list[Any]) -> Any:
    """The lowest task above my_task and every arrived instance: where the branches split."""
    chain = []
    task = my_task.parent
    while task is not None:
        chain.append(task)
        task = task.parent
    position = {task.id: i for i, task in enumerate(chain)}
    highest = 0
    for other in arrived:
        task = other.parent
        while task is not None and task.id not in position:
            task = task.parent
        if task is not None:
            highest = max(highest, position[task.id])
    return chain[highest]


class ParallelGateway(_ParallelGateway):
    def _check_threshold_unstructured(self, my_task: Any) -> bool:
        waiting_inputs = set(self.inputs)

        def remove_ancestor(task: Any) -> None:
            if task.task_spec in waiting_inputs:
                waiting_inputs.remove(task.task_spec)
            elif task.parent is not None:
                remove_ancestor(task.parent)

        for task in this_pass(my_task):
            if task.is_descendant_of(my_task):
                remove_ancestor(task)
            elif my_task.is_descendant_of(task):
                continue
            elif task.parent.state == TaskState.COMPLETED and task.parent.task_spec in waiting_inputs:
                waiting_inputs.remove(task.parent.task_spec)
        return len(waiting_inputs) == 0

    def _run_hook(self, my_task: Any) -> bool:
        merge_branches(my_task)
        return True


class InclusiveGateway(_InclusiveGateway):
    def _run_hook(self, my_task: Any) -> bool:
        merge_branches(my_task)
        matches, defaults = self._get_matching_outputs(my_task)
        if len(matches + defaults) == 0:
            raise WorkflowTaskException('No conditions satisfied on gateway', task=my_task)
        my_task._sync_children(matches or defaults, TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True
