"""Serializer config: a copy of SpiffWorkflow's default with our converters added.

The case state is saved without the process spec (it lives once per definition version and is
re-attached on load), so the top-level workflow converter leaves `spec` and `subprocess_specs`
out. Our timer definitions get converters so pending events can be saved.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter

from engine.camunda.specs.event_definitions import (
    CamundaCycleTimerEventDefinition,
    CamundaTimerEventDefinition,
)


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Saves a workflow without its specs; restores it onto the specs it is given."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> Any:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class CamundaTimerConverter(TimerConditionalEventDefinitionConverter):
    def to_dict(self, event_definition: Any) -> dict[str, Any]:
        dct = super().to_dict(event_definition)
        dct["kind"] = getattr(event_definition, "kind", "cycle")
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        kind = dct.pop("kind", "cycle")
        if self.target_class is CamundaTimerEventDefinition:
            dct["kind"] = kind
        return super().from_dict(dct)


POLKU_CONFIG: dict[Any, Any] = deepcopy(DEFAULT_CONFIG)
for _cls, _converter in (
    (CamundaTimerEventDefinition, CamundaTimerConverter),
    (CamundaCycleTimerEventDefinition, CamundaTimerConverter),
):
    if _cls in POLKU_CONFIG:
        raise RuntimeError(f"{_cls.__name__} already has a converter")
    POLKU_CONFIG[_cls] = _converter
POLKU_CONFIG[BpmnWorkflow] = SpeclessWorkflowConverter
