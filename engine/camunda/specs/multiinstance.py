"""Multi-instance activities with Camunda's `camunda:collection` / `camunda:elementVariable`.

Camunda takes the collection from an expression or a variable name and does not collect outputs;
SpiffWorkflow's BPMN multi-instance reads a data input variable, so the evaluated collection is
put in a hidden variable for the loop and removed when it completes.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    ParallelMultiInstanceTask as _ParallelMI,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    SequentialMultiInstanceTask as _SequentialMI,
)
from SpiffWorkflow.util.task import TaskState

from engine.camunda.juel import is_juel

_ABSENT = object()


class _CamundaCollection:
    collection: str | None

    def _hidden(self) -> str:
        return f"_mi_{self.bpmn_id}"  # type: ignore[attr-defined]

    def _update_hook(self, my_task: Any) -> Any:
        if self.collection is not None and my_task.state != TaskState.WAITING:
            parent_data = my_task.parent.data if my_task.parent is not None else my_task.data
            if is_juel(self.collection):
                my_task._inherit_data()  # the base hook inherits only after this; JUEL reads the task's data
                value = my_task.workflow.script_engine.value(my_task, self.collection)
            else:
                value = parent_data.get(self.collection, my_task.data.get(self.collection))
            if value is None:
                value = []
            hidden = self._hidden()
            my_task.data[hidden] = list(value)
            # The base hook merges the parent's data in: the parent holds the same list meanwhile, so that no
            # older one wins, and loses it after, so that the branches beside this one do not carry it.
            previous = parent_data.get(hidden, _ABSENT)
            parent_data[hidden] = list(value)
            try:
                return super()._update_hook(my_task)  # type: ignore[misc]
            finally:
                if parent_data is not my_task.data:
                    if previous is _ABSENT:
                        parent_data.pop(hidden, None)
                    else:
                        parent_data[hidden] = previous
        return super()._update_hook(my_task)  # type: ignore[misc]

    def merge_child(self, workflow: Any, child: Any) -> None:
        # Camunda's element variable is local to its instance: it must not leak into the process
        # (and SpiffWorkflow refuses to start the next sequential instance while it is there).
        item = getattr(self, "input_item", None)
        if self.collection is not None and item is not None:
            child.data.pop(item.bpmn_id, None)
        super().merge_child(workflow, child)  # type: ignore[misc]

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        if self.collection is not None:
            my_task.data.pop(self._hidden(), None)


def _params(bpmn_id: str, collection: str | None, element_variable: str | None) -> dict[str, Any]:
    if collection is None:
        return {}
    params: dict[str, Any] = {"data_input": TaskDataReference(f"_mi_{bpmn_id}")}
    if element_variable:
        params["input_item"] = TaskDataReference(element_variable)
    return params


class ParallelMultiInstanceTask(_CamundaCollection, _ParallelMI):
    def __init__(self, wf_spec: Any, bpmn_id: str, task_spec: str, *, collection: str | None = None,
                 element_variable: str | None = None, **kwargs: Any) -> None:
        kwargs.update(_params(bpmn_id, collection, element_variable))
        super().__init__(wf_spec, bpmn_id, task_spec, **kwargs)
        self.collection = collection


class SequentialMultiInstanceTask(_CamundaCollection, _SequentialMI):
    def __init__(self, wf_spec: Any, bpmn_id: str, task_spec: str, *, collection: str | None = None,
                 element_variable: str | None = None, **kwargs: Any) -> None:
        kwargs.update(_params(bpmn_id, collection, element_variable))
        super().__init__(wf_spec, bpmn_id, task_spec, **kwargs)
        self.collection = collection
