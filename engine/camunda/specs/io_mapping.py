"""camunda:inputOutput mappings, applied around any activity or event.

Camunda gives an activity with input parameters a local scope; SpiffWorkflow has none, so inputs
are set on the task's data when it becomes ready and removed again when it completes, after the
output parameters have been computed from them. Around that, the task takes part in the process
scope (engine/camunda/scope.py): what it changed is published when it completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.camunda import scope
from engine.camunda.scope import SHADOWED  # internal data: process variables hidden by same-named input parameters

Value = tuple  # ("text", str) | ("list", list[Value]) | ("map", list[tuple[str, Value]]) | ("script", str)


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Value


def evaluate_value(my_task: Any, value: Value) -> Any:
    """Evaluate a parsed parameter value against the task's data."""
    engine = my_task.workflow.script_engine
    kind, body = value
    if kind == "text":
        return engine.value(my_task, body)
    if kind == "list":
        return [evaluate_value(my_task, item) for item in body]
    if kind == "map":
        return {key: evaluate_value(my_task, item) for key, item in body}
    if kind == "script":
        return engine.evaluate_script_value(my_task, body)
    return None


class IoMappingMixin:
    """Adds Camunda input/output parameters to a SpiffWorkflow task spec."""

    input_parameters: tuple[Parameter, ...] = ()
    output_parameters: tuple[Parameter, ...] = ()

    def _on_ready_hook(self, my_task: Any) -> None:
        self.enter(my_task)
        super()._on_ready_hook(my_task)  # type: ignore[misc]

    def enter(self, my_task: Any) -> None:
        """The activity starts: note the process variables it sees, then set its input parameters (once each).

        A task enters when it becomes ready; a subprocess or call activity when its process starts, since
        SpiffWorkflow makes it ready only after that process has ended (engine/camunda/specs/tasks.py).
        """
        if scope.SEEN not in my_task.internal_data:
            scope.remember(my_task)
        if self.input_parameters and SHADOWED not in my_task.internal_data:
            values = {p.name: evaluate_value(my_task, p.value) for p in self.input_parameters}
            # A local variable may shadow a process variable of the same name: remember it to restore.
            my_task.internal_data[SHADOWED] = {n: my_task.data[n] for n in values if n in my_task.data}
            my_task.data.update(values)

    def _on_complete_hook(self, my_task: Any) -> None:
        outputs = {p.name: evaluate_value(my_task, p.value) for p in self.output_parameters}
        if self.input_parameters:
            shadowed = my_task.internal_data.pop(SHADOWED, {})
            for p in self.input_parameters:
                my_task.data.pop(p.name, None)
            my_task.data.update(shadowed)
        my_task.data.update(outputs)
        scope.publish_changes(my_task)
        super()._on_complete_hook(my_task)  # type: ignore[misc]
