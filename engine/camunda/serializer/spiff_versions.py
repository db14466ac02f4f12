"""States saved by an older SpiffWorkflow: its serializer's version, and its own migrations run before `from_dict`.

SpiffWorkflow's `BpmnWorkflowSerializer.migrate` pops the saved `serializer_version` and applies that version's
entry of its `MIGRATIONS` table, which is meant to bring the serialization to the installed version. It expects
the whole serialization, specs included; a case state has none (the definition holds the specs), so the
migration gets a view of the definition's specs: every task spec's name, type name, inputs, outputs and event
definition type, which is what Spiff's migrations look at to find the tasks they change. What they change in
the view is thrown away: the specs are parsed from the definition by the installed SpiffWorkflow.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.workflow import VERSION

from engine.errors import StateVersionError

State = dict[str, Any]

# The serializer version of the installed SpiffWorkflow, stored beside every saved state (`case.spiff_version`).
SPIFF_VERSION: str = VERSION

# Rows saved before `case.spiff_version` existed (migration 0007) hold NULL: they were all written by
# SpiffWorkflow 3.2.0, pinned since the first commit, whose serializer version is 1.5. Never derive this
# from the installed SpiffWorkflow: after an upgrade those rows are still 1.5.
UNRECORDED_SPIFF_VERSION = "1.5"

_STOCK_CLASSES = frozenset(DEFAULT_CONFIG)


def parse(version: str) -> tuple[int, ...]:
    """A serializer version as numbers, so that "1.10" sorts after "1.9"."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError as err:
        raise StateVersionError(f"SpiffWorkflow serializer version {version!r} is not a version") from err


def migrate(state: State, saved: str | None, spec: Any, subprocess_specs: dict[str, Any],
            serializer: BpmnWorkflowSerializer) -> State:
    """The state as the installed SpiffWorkflow writes it; `saved` is the version it was written with."""
    version = saved or UNRECORDED_SPIFF_VERSION
    if version == SPIFF_VERSION:
        return state
    if parse(version) > parse(SPIFF_VERSION):
        raise StateVersionError(f"case state was saved by SpiffWorkflow serializer {version}, newer than the "
                                f"installed {SPIFF_VERSION}; run it with the SpiffWorkflow that saved it")
    full = {**state, "spec": spec_view(spec),
            "subprocess_specs": {name: spec_view(sub) for name, sub in subprocess_specs.items()},
            serializer.VERSION_KEY: version}
    try:
        serializer.migrate(full)
    except Exception as err:  # noqa: BLE001 - any failure of Spiff's migration means the state cannot be read
        raise StateVersionError(f"case state saved by SpiffWorkflow serializer {version} could not be migrated to "
                                f"{SPIFF_VERSION}: {type(err).__name__}: {err}") from err
    for key in ("spec", "subprocess_specs", "VERSION", serializer.VERSION_KEY):
        full.pop(key, None)
    return full


def spec_view(spec: Any) -> dict[str, Any]:
    """A process spec as Spiff's migrations read it (they look task specs up by name and type name)."""
    return {"name": spec.name, "typename": stock_typename(type(spec)),
            "task_specs": {name: _task_spec_view(task_spec) for name, task_spec in spec.task_specs.items()}}


def stock_typename(cls: type) -> str:
    """The type name SpiffWorkflow's own converter writes for the nearest stock class our class extends."""
    for base in cls.__mro__:
        if base in _STOCK_CLASSES:
            return base.__name__
    return cls.__name__


def _task_spec_view(task_spec: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"name": task_spec.name, "typename": stock_typename(type(task_spec)),
                            "bpmn_id": getattr(task_spec, "bpmn_id", None),
                            "inputs": list(task_spec._inputs), "outputs": list(task_spec._outputs)}
    event_definition = getattr(task_spec, "event_definition", None)
    if event_definition is not None:
        view["event_definition"] = {"typename": stock_typename(type(event_definition)),
                                    "name": getattr(event_definition, "name", None)}
    return view
