"""The process in bpmn/ as a process owner gets it: it deploys, is fully laid out, and its tooling matches it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from lxml import etree

from engine.definitions import DefinitionStore
from engine.simulate import simulate
from polku.resources import collect_dir

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "camunda": "http://camunda.org/schema/1.0/bpmn"}
FLOW_NODES = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "userTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask", "manualTask",
              "task", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
              "eventBasedGateway")
BPMN_FILES = sorted(BPMN.glob("*.bpmn"))


def parsed(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def test_the_process_files_deploy():
    deployment = DefinitionStore.validate(collect_dir(BPMN))
    assert {"work_ability_support", "service_coordination"} <= set(deployment.processes)


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_flow_node_and_flow_is_laid_out(path: Path):
    root = parsed(path)
    shapes = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    nodes = {n.get("id") for tag in FLOW_NODES for n in root.iterfind(f".//bpmn:{tag}", NS)}
    flows = {f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    assert nodes and not nodes - shapes, f"flow nodes without a shape: {sorted(nodes - shapes)}"
    assert flows and not flows - edges, f"sequence flows without an edge: {sorted(flows - edges)}"
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, edge.get("bpmnElement")


def test_every_service_topic_has_an_element_template_and_is_documented():
    templates = json.loads((BPMN / ".camunda" / "element-templates" / "polku-tasks.json").read_text())
    templated = {p["value"] for t in templates for p in t["properties"]
                 if p.get("binding", {}).get("name") == "camunda:topic"}
    readme = (BPMN / "README.md").read_text()
    topics = set()
    for path in BPMN_FILES:
        for node in parsed(path).iter():
            if node.get(f"{{{NS['camunda']}}}type") == "external":
                topics.add(node.get(f"{{{NS['camunda']}}}topic"))
    assert topics and topics <= templated, f"topics without a template: {sorted(topics - templated)}"
    assert all(f"`{topic}`" in readme for topic in topics)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_user_tasks_and_form_fields_have_swedish_and_english_labels(language: str):
    labels = json.loads((BPMN / "i18n" / f"{language}.json").read_text())
    missing = set()
    for path in BPMN_FILES:
        root = parsed(path)
        for task in root.iterfind(".//bpmn:userTask", NS):
            missing |= {task.get("id")} - labels.keys()
        for field in root.iterfind(".//camunda:formField", NS):
            missing |= {field.get("id")} - labels.keys()
    assert not missing, f"no {language} label for {sorted(missing)}"


def test_the_basic_services_exit_completes_as_the_readme_says():
    readme = (BPMN / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "polku simulate" in line and "--drive" in line)
    args = shlex.split(command.strip())
    variables = json.loads(args[args.index("--vars") + 1])
    process = args[args.index("--process") + 1]
    assert re.search(rf"main process[^\n]*`{process}`", readme, re.IGNORECASE), "README names the main process"
    files = {p.name: p.read_bytes() for p in [*BPMN_FILES, *BPMN.glob("*.dmn"), *BPMN.glob("forms/*.form")]}
    result = simulate(files, process=process, variables=variables, drive=True)
    assert result["status"] == "completed", result
    assert result["path"][-3:] == ["record_destination", "guidance_letter", "guided_to_basic_services"]
    assert "make_plan" not in result["path"]
