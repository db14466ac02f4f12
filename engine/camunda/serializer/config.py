"""Serializer config: a copy of SpiffWorkflow's default with our converters added.

The case state is saved without the process spec (it lives once per definition version and is
re-attached on load). The top-level workflow converter is SpiffWorkflow's own, not a copy of its
body: process specs are written as bare references (a name), which the workflow converter then
leaves out of the state, and on load the definition's spec objects are handed to Spiff's own
`from_dict` in their place. So a field a later SpiffWorkflow adds to the workflow dict is saved
and restored like the rest (tests/engine/test_saved_state_upgrades.py compares with the stock
converter). Our timer definitions get converters so pending events can be saved.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.specs import AdHocSubprocessSpec, BpmnProcessSpec

from engine.camunda.specs.event_definitions import (
    CamundaCycleTimerEventDefinition,
    CamundaTimerEventDefinition,
)


class SpecReferenceConverter(BpmnConverter):
    """A process spec inside a case state: only its name; the specs themselves belong to the definition."""

    def to_dict(self, spec: Any) -> dict[str, Any]:
        return {"name": spec.name}

    def from_dict(self, dct: dict[str, Any]) -> Any:
        raise ValueError(f"process spec {dct.get('name')!r} is attached from its definition, never from a case state")


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter, saving without the specs and restoring onto the specs it is given."""

    SPEC_KEYS = ("spec", "subprocess_specs")

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = super().to_dict(workflow)
        for key in self.SPEC_KEYS:  # only references here (SpecReferenceConverter); a KeyError means Spiff changed
            del dct[key]
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> Any:
        # Spiff's from_dict restores `spec` and each subprocess spec through the registry, which hands
        # back anything that is not a dict unchanged: the definition's spec objects go in as they are.
        return super().from_dict({**dct, "spec": spec, "subprocess_specs": dict(subprocess_specs or {})})


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
for _spec_cls in (BpmnProcessSpec, AdHocSubprocessSpec):
    POLKU_CONFIG[_spec_cls] = SpecReferenceConverter
