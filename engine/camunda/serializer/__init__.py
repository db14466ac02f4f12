"""Saving and restoring case state (see config.py for what differs from SpiffWorkflow's default).

Every saved state carries two versions: Polku's `STATE_VERSION` (column `state_format`, upgrades.py)
and SpiffWorkflow's serializer version (column `spiff_version`, spiff_versions.py). Loading runs
Spiff's own migrations first, then Polku's upgrades, then Spiff's `from_dict`.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder

from engine.camunda.serializer import spiff_versions, upgrades
from engine.camunda.serializer.config import POLKU_CONFIG
from engine.camunda.serializer.spiff_versions import SPIFF_VERSION
from engine.camunda.serializer.upgrades import STATE_VERSION, UPGRADES

__all__ = ["SPIFF_VERSION", "STATE_VERSION", "UPGRADES", "dumps", "loads"]

# Saving uses a registry of its own that stays in SpiffWorkflow's encoder mode (converting each object
# one level and leaving the rest to the JSON encoder, as Spiff's serialize_json does). The mode is set
# here once and never toggled: Spiff toggles it around each save, a flag shared by every thread, so
# concurrent saves would switch each other's mode halfway through a workflow.
_writer = BpmnWorkflowSerializer.configure(POLKU_CONFIG)
_writer._encoder_mode = True
_writer_serializer = BpmnWorkflowSerializer(_writer)
_encoder = create_encoder(_writer)

_reader = BpmnWorkflowSerializer.configure(POLKU_CONFIG)
_reader_serializer = BpmnWorkflowSerializer(_reader)


def dumps(workflow: Any) -> str:
    """The workflow's state as compact JSON, without its specs (thread-safe: nothing shared is changed)."""
    return json.dumps(_writer_serializer.to_dict(workflow), separators=(",", ":"), cls=_encoder)


def loads(state: str, state_format: str, spiff_version: str | None, spec: Any, subprocess_specs: dict[str, Any],
          script_engine: Any) -> Any:
    """Restore a workflow saved by `dumps` (possibly by an older Polku or SpiffWorkflow) onto its specs."""
    dct = json.loads(state)
    dct = spiff_versions.migrate(dct, spiff_version, spec, subprocess_specs, _reader_serializer)
    dct = upgrades.upgrade(dct, state_format)
    workflow = _reader_serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
