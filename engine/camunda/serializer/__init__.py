"""Saving and restoring case state (see config.py for what differs from SpiffWorkflow's default)."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

from engine.camunda.serializer.config import POLKU_CONFIG

# Saved with every case; bump it and add an upgrade to UPGRADES when the saved shape changes.
STATE_VERSION = "polku-1"
UPGRADES: dict[str, Any] = {}

_registry = BpmnWorkflowSerializer.configure(POLKU_CONFIG)
_serializer = BpmnWorkflowSerializer(_registry)


def dumps(workflow: Any) -> str:
    """The workflow's state as compact JSON, without its specs."""
    _registry._encoder_mode = True
    try:
        dct = _serializer.to_dict(workflow)
    finally:
        _registry._encoder_mode = False
    return json.dumps(dct, separators=(",", ":"), cls=_serializer._encoder_cls)


def loads(state: str, version: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any) -> Any:
    """Restore a workflow saved by `dumps` onto its specs."""
    dct = json.loads(state)
    while version != STATE_VERSION:
        if version not in UPGRADES:
            raise ValueError(f"case state version {version!r} cannot be upgraded to {STATE_VERSION}")
        dct, version = UPGRADES[version](dct)
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
