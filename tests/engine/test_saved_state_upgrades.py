"""Saved case state across upgrades: SpiffWorkflow's serializer version and migrations, Polku's own
`UPGRADES`, a converter that keeps whatever SpiffWorkflow saves, and saving from many threads at once."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from sqlalchemy import update

from engine.camunda import serializer
from engine.camunda.serializer import upgrades
from engine.camunda.serializer.config import POLKU_CONFIG, SpeclessWorkflowConverter
from engine.camunda.serializer.spiff_versions import SPIFF_VERSION, UNRECORDED_SPIFF_VERSION
from engine.errors import StateVersionError
from engine.models import Case
from engine.runtime import Engine
from tests.diagrams import chain, process
from tests.engine.runtime_support import open_task, snapshot
from tests.engine.test_shared_specs import VOTES, open_elements

TWO = process("two", '<bpmn:startEvent id="start"/><bpmn:userTask id="first"/><bpmn:userTask id="second"/>'
                     '<bpmn:endEvent id="end"/>' + chain("start", "first", "second", "end"))


def saved(engine: Engine, case_id: str) -> tuple[dict[str, Any], str, str | None]:
    with engine.db.transaction() as session:
        row = session.get(Case, case_id)
        assert row is not None
        return json.loads(row.state), row.state_format, row.spiff_version


def rewrite(engine: Engine, case_id: str, state: dict[str, Any], **columns: Any) -> None:
    """The row as an older Polku or SpiffWorkflow would have left it."""
    with engine.db.transaction() as session:
        session.execute(update(Case).where(Case.id == case_id).values(state=json.dumps(state), **columns))


# -- SpiffWorkflow's serializer version ------------------------------------------------------------------------

def test_every_saved_case_records_the_spiff_serializer_version(engine: Engine) -> None:
    engine.deploy({"two.bpmn": TWO})
    case_id = engine.start("two")
    assert saved(engine, case_id)[1:] == (serializer.STATE_VERSION, SPIFF_VERSION)
    engine.complete_task(open_task(engine, case_id).id, {})
    assert saved(engine, case_id)[1:] == (serializer.STATE_VERSION, SPIFF_VERSION)


def test_a_case_saved_before_the_version_was_recorded_loads_as_the_pinned_version(engine: Engine) -> None:
    engine.deploy({"two.bpmn": TWO})
    case_id = engine.start("two")
    state, _, _ = saved(engine, case_id)
    rewrite(engine, case_id, state, spiff_version=None)  # rows written before migration 0007
    engine.complete_task(open_task(engine, case_id).id, {})
    assert open_elements(engine, case_id) == ["second"]
    assert saved(engine, case_id)[2] == SPIFF_VERSION
    assert UNRECORDED_SPIFF_VERSION == "1.5"  # SpiffWorkflow 3.2.0, pinned since the first commit


def test_a_state_saved_by_an_older_spiff_runs_through_spiffs_own_migration(engine: Engine) -> None:
    """Serializer 1.3 kept a reached multi-instance task WAITING; Spiff's 1.3 migration makes it STARTED,
    without which the instances' completion is never merged and the case stalls."""
    engine.deploy({"votes.bpmn": VOTES})
    case_id = engine.start("votes", None, {"voters": ["anna", "bert"]})
    state, _, _ = saved(engine, case_id)
    multi = [t for t in state["tasks"].values() if t["task_spec"] == "vote" and t["state"] == 32]
    assert len(multi) == 1
    multi[0]["state"] = 8
    rewrite(engine, case_id, state, spiff_version="1.3")
    for task in engine.open_tasks(case_id):
        engine.complete_task(task.id, {}, actor=task.assignee)
    assert open_elements(engine, case_id) == ["count"]
    assert saved(engine, case_id)[2] == SPIFF_VERSION


def test_a_state_saved_by_a_newer_spiff_is_refused_and_left_as_it_was(engine: Engine) -> None:
    engine.deploy({"two.bpmn": TWO})
    case_id = engine.start("two")
    state, _, _ = saved(engine, case_id)
    rewrite(engine, case_id, state, spiff_version="99.0")
    before = snapshot(engine, case_id)
    with pytest.raises(StateVersionError, match="99.0"):
        engine.complete_task(open_task(engine, case_id).id, {})
    assert snapshot(engine, case_id) == before


# -- Polku's own state versions ----------------------------------------------------------------------------

def test_upgrades_run_in_order_from_any_older_version() -> None:
    table: dict[str, upgrades.Step] = {
        "v0": ("v1", lambda s: {**s, "seen": [*s["seen"], "v0->v1"]}),
        "v1": ("v2", lambda s: {**s, "seen": [*s["seen"], "v1->v2"]}),
    }
    assert upgrades.upgrade({"seen": []}, "v0", table, current="v2")["seen"] == ["v0->v1", "v1->v2"]
    assert upgrades.upgrade({"seen": []}, "v1", table, current="v2")["seen"] == ["v1->v2"]
    assert upgrades.upgrade({"seen": []}, "v2", table, current="v2")["seen"] == []
    with pytest.raises(StateVersionError, match="'v9'"):
        upgrades.upgrade({}, "v9", table, current="v2")


def test_an_upgrade_table_that_cannot_reach_the_current_version_is_refused() -> None:
    step = lambda s: s  # noqa: E731
    with pytest.raises(StateVersionError, match="stops before v2"):
        upgrades.check_table({"v0": ("v1", step)}, current="v2")
    with pytest.raises(StateVersionError, match="cycle"):
        upgrades.check_table({"v0": ("v1", step), "v1": ("v0", step)}, current="v2")
    upgrades.check_table(upgrades.UPGRADES)


def test_a_case_saved_in_an_older_polku_shape_is_upgraded_on_load(engine: Engine,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    engine.deploy({"two.bpmn": TWO})
    case_id = engine.start("two")
    state, _, _ = saved(engine, case_id)
    state["task_map"] = state.pop("tasks")  # a made-up older shape: the task map had another name
    rewrite(engine, case_id, state, state_format="polku-0")
    with pytest.raises(StateVersionError, match="'polku-0'"):
        engine.complete_task(open_task(engine, case_id).id, {})

    def rename(old: dict[str, Any]) -> dict[str, Any]:
        return {("tasks" if key == "task_map" else key): value for key, value in old.items()}

    monkeypatch.setitem(upgrades.UPGRADES, "polku-0", (serializer.STATE_VERSION, rename))
    engine.complete_task(open_task(engine, case_id).id, {})
    assert open_elements(engine, case_id) == ["second"]
    assert saved(engine, case_id)[1] == serializer.STATE_VERSION


# -- the workflow converter is SpiffWorkflow's own ------------------------------------------------------------

STOCK = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
         'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
         '<bpmn:process id="stock" isExecutable="true"><bpmn:startEvent id="start"/>'
         '<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start"/><bpmn:userTask id="inner"/>'
         '<bpmn:endEvent id="sub_end"/>'
         '<bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner"/>'
         '<bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end"/></bpmn:subProcess>'
         '<bpmn:userTask id="outer"/><bpmn:endEvent id="end"/>'
         '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>'
         '<bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="outer"/>'
         '<bpmn:sequenceFlow id="f3" sourceRef="outer" targetRef="end"/></bpmn:process></bpmn:definitions>')


@pytest.fixture
def stock_workflow() -> BpmnWorkflow:
    """A workflow of SpiffWorkflow's own specs (its stock converter can save it), waiting inside a subprocess."""
    from lxml import etree

    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(STOCK.encode()), "stock.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("stock"), parser.get_subprocess_specs("stock"))
    workflow.do_engine_steps()
    workflow.data["amount"] = 3
    return workflow


def missing_fields(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Keys of `expected` (at any depth) that `actual` lacks."""
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        return []
    found = [f"{path}{key}" for key in expected if key not in actual]
    for key in expected.keys() & actual.keys():
        found += missing_fields(expected[key], actual[key], f"{path}{key}.")
    return found


def test_the_saved_state_is_spiffs_own_serialization_without_the_specs(stock_workflow: BpmnWorkflow) -> None:
    stock = BpmnWorkflowSerializer()
    expected = json.loads(stock.serialize_json(stock_workflow))
    expected.pop(stock.VERSION_KEY)
    assert {"spec", "subprocess_specs"} <= expected.keys() and expected["subprocesses"]
    for key in SpeclessWorkflowConverter.SPEC_KEYS:
        expected.pop(key)
    ours = json.loads(serializer.dumps(stock_workflow))
    assert missing_fields(expected, ours) == [], "Polku's saved state drops fields SpiffWorkflow saves"
    assert ours == expected


def test_restoring_through_polku_loses_nothing_spiff_restores(stock_workflow: BpmnWorkflow) -> None:
    stock = BpmnWorkflowSerializer()
    through_spiff = stock.deserialize_json(stock.serialize_json(stock_workflow))
    through_polku = serializer.loads(serializer.dumps(stock_workflow), serializer.STATE_VERSION, SPIFF_VERSION,
                                     stock_workflow.spec, stock_workflow.subprocess_specs, PythonScriptEngine())
    assert sorted(vars(through_polku)) == sorted(vars(through_spiff))
    assert json.loads(stock.serialize_json(through_polku)) == json.loads(stock.serialize_json(through_spiff))


class FutureWorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's converter as a later release might write it: one more field saved and restored."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        return {**super().to_dict(workflow), "priority": getattr(workflow, "priority", None)}

    def from_dict(self, dct: dict[str, Any]) -> Any:
        priority = dct.pop("priority")
        workflow = super().from_dict(dct)
        workflow.priority = priority
        return workflow


def test_a_field_a_later_spiff_adds_to_the_workflow_is_saved_and_restored(stock_workflow: BpmnWorkflow) -> None:
    later = type("LaterSpecless", (SpeclessWorkflowConverter, FutureWorkflowConverter), {})
    registry = BpmnWorkflowSerializer.configure({**POLKU_CONFIG, BpmnWorkflow: later})
    stock_workflow.priority = "high"  # type: ignore[attr-defined]
    dct = json.loads(json.dumps(registry.convert(stock_workflow)))
    assert dct["priority"] == "high" and "spec" not in dct
    restored = registry.restore(dct, spec=stock_workflow.spec, subprocess_specs=stock_workflow.subprocess_specs)
    assert restored.priority == "high"


# -- saving from many threads ------------------------------------------------------------------------------

@pytest.fixture
def workflows(engine: Engine) -> Iterator[list[Any]]:
    """Workflows of one definition, each with its own data; the nested helper is a value only SpiffWorkflow's
    encoder mode saves (as null): the other mode drops it, so a save whose mode flips midway shows."""
    engine.deploy({"two.bpmn": TWO})
    definition = engine.definitions.load(engine.definitions.latest("two").id)
    made = []
    for n in range(8):
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                script_engine=engine.tx.script_engine(definition))
        workflow.data = {"n": n, "nested": {"helper": len, "values": list(range(n * 40))}}
        workflow.do_engine_steps()
        made.append(workflow)
    yield made


def test_concurrent_saves_of_different_workflows_each_save_their_own_state(workflows: list[Any]) -> None:
    expected = [serializer.dumps(workflow) for workflow in workflows]
    wrong: list[int] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        def save_many(index: int) -> None:
            for _ in range(200):
                if serializer.dumps(workflows[index]) != expected[index]:
                    wrong.append(index)
                    return

        threads = [threading.Thread(target=save_many, args=(i,)) for i in range(len(workflows))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []
    assert all(json.loads(e)["data"]["nested"]["helper"] is None for e in expected)
