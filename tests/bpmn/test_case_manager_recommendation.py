"""The Turku decision table (the default site) over cases written from the source documents.

Sources: `shared/seeds/000_*` ("Kaveria ei jätetä", Turku): the work ability coordinator is the case manager when
the need is broad and the path unclear; no case manager when basic services (TYP, disability services, the
unemployed people's nurse) carry the client; the own worker or another responsible worker continues only when the
path is clear and that worker can help; hard or unclear cases go to the work ability team.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.camunda.dmn import DecisionRegistry, parse_dmn
from engine.simulate import simulate

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
DMN = BPMN / "case-manager-recommendation.dmn"
DECISION = "case_manager_recommendation"
POLKU = Path(sys.executable).with_name("polku")
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


def mapping(physical: int = 0, psychological: int = 0, social: int = 0, cognitive: int = 0,
            path_clear: bool | None = True, own_worker: bool = False, can_help: bool | None = False,
            social_welfare: bool = False) -> dict[str, Any]:
    """The needs mapping's answers as the form sets them."""
    return {"physicalRating": physical, "psychologicalRating": psychological, "socialRating": social,
            "cognitiveRating": cognitive, "pathClear": path_clear, "hasOwnWorker": own_worker,
            "ownWorkerCanHelp": can_help, "socialWelfareClient": social_welfare}


# (what the source says, the needs mapping, the recommendation)
CASES = [
    ("broad need, unclear path, own worker who can help: still the coordinator",
     mapping(2, 3, 0, 0, path_clear=False, own_worker=True, can_help=True), "coordinator"),
    ("broad need, unclear path, no own worker: the coordinator",
     mapping(3, 2, 2, 1, path_clear=False), "coordinator"),
    ("broad need in exactly two dimensions is broad",
     mapping(0, 0, 2, 2, path_clear=False), "coordinator"),
    ("broad need, unclear path, a social welfare client: the coordinator in Turku",
     mapping(2, 2, 3, 0, path_clear=False, social_welfare=True), "coordinator"),
    ("narrow need, clear path: basic services carry the client",
     mapping(1, 1, 0, 0), "no_case_manager_basic_services"),
    ("one dimension severe is still a narrow need: basic services",
     mapping(3, 1, 1, 1), "no_case_manager_basic_services"),
    ("narrow need, clear path, an own worker who cannot help: basic services",
     mapping(1, 0, 0, 0, own_worker=True, can_help=False), "no_case_manager_basic_services"),
    ("clear path and an own worker who can help: the own worker continues",
     mapping(1, 1, 0, 0, own_worker=True, can_help=True), "no_case_manager_own_worker"),
    ("broad need but a clear path and an own worker who can help: the own worker continues",
     mapping(2, 2, 2, 0, own_worker=True, can_help=True), "no_case_manager_own_worker"),
    ("narrow need, unclear path, own worker who can help: the path is unclear, so the team looks at it",
     mapping(1, 2, 0, 0, path_clear=False, own_worker=True, can_help=True), "team_review"),
    ("narrow need, unclear path: neither rule of the source fits, the team looks at it",
     mapping(1, 1, 1, 1, path_clear=False), "team_review"),
    ("broad need, clear path, nobody who can help: needs coordinating but the path is clear: the team",
     mapping(2, 3, 0, 0), "team_review"),
    ("'can help' without an own worker counts for nothing",
     mapping(2, 3, 0, 0, own_worker=False, can_help=True), "team_review"),
    ("path not assessed (no answer): never a default, the team looks at it",
     mapping(1, 0, 0, 0, path_clear=None, own_worker=True, can_help=True), "team_review"),
]
OUTPUTS = {"coordinator", "no_case_manager_basic_services", "no_case_manager_own_worker", "team_review"}


@pytest.fixture(scope="module")
def registry() -> DecisionRegistry:
    return DecisionRegistry(parse_dmn(DMN.read_bytes(), DMN.name))


def decide(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POLKU), "decide", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("why", "variables", "expected"), CASES, ids=[case[0] for case in CASES])
def test_the_table_decides_each_case_as_the_source_does(registry: DecisionRegistry, why: str,
                                                         variables: dict[str, Any], expected: str) -> None:
    assert registry.evaluate(DECISION, variables) == [{"recommendation": expected}], why


def test_every_recommendation_is_reached_by_some_case() -> None:
    assert {expected for _, _, expected in CASES} == OUTPUTS


def test_polku_decide_prints_the_decision_its_result_and_the_rule_that_matched() -> None:
    why, variables, expected = CASES[0]
    result = decide(str(DMN), "--vars", json.dumps(variables))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"decision": DECISION, "result": "coordinator",
                                         "matchedRules": ["rule_coordinator"]}


@pytest.mark.parametrize(("why", "variables", "expected"), [CASES[4], CASES[7], CASES[10]],
                         ids=[CASES[i][0] for i in (4, 7, 10)])
def test_polku_decide_agrees_with_the_case_table(why: str, variables: dict[str, Any], expected: str) -> None:
    result = decide(str(DMN), "--decision", DECISION, "--vars", json.dumps(variables))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["result"] == expected, why
    assert len(printed["matchedRules"]) == 1  # first hit: the one row that decided


def test_polku_decide_refuses_bad_input_in_one_line() -> None:
    result = decide(str(DMN), "--vars", "[1]")
    assert result.returncode != 0 and "--vars must be a JSON object" in result.stderr
    result = decide(str(DMN), "--decision", "no_such_decision", "--vars", "{}")
    assert result.returncode != 0 and "no_such_decision" in result.stderr and "Traceback" not in result.stderr


def all_mappings() -> list[dict[str, Any]]:
    ratings = range(4)
    answers = (True, False, None)
    return [mapping(p, ps, s, c, path_clear=clear, own_worker=own, can_help=helps)
            for p, ps, s, c in itertools.product(ratings, repeat=4)
            for clear, own, helps in itertools.product(answers, (True, False), answers)]


def test_no_input_ends_with_the_own_worker_unless_the_path_is_clear_and_the_worker_can_help(
        registry: DecisionRegistry) -> None:
    wrong = []
    for variables in all_mappings():
        (result,) = registry.evaluate(DECISION, variables)
        own_worker = result["recommendation"] == "no_case_manager_own_worker"
        allowed = variables["pathClear"] is True and variables["hasOwnWorker"] and variables["ownWorkerCanHelp"]
        if own_worker and not allowed:
            wrong.append(variables)
        assert result["recommendation"] in OUTPUTS
    assert not wrong, f"{len(wrong)} combinations end with the own worker, e.g. {wrong[0]}"


def test_broad_need_and_an_unclear_path_always_get_the_coordinator(registry: DecisionRegistry) -> None:
    for variables in all_mappings():
        broad = sum(variables[k] >= 2 for k in ("physicalRating", "psychologicalRating", "socialRating",
                                                "cognitiveRating")) >= 2
        if broad and variables["pathClear"] is False:
            assert registry.evaluate(DECISION, variables) == [{"recommendation": "coordinator"}], variables


def form_choices(task_id: str, field_id: str) -> set[str]:
    root = etree.parse(str(BPMN / "work-ability-support.bpmn")).getroot()
    (field,) = root.xpath(f"//*[@id='{task_id}']//camunda:formField[@id='{field_id}']", namespaces={"camunda": CAMUNDA})
    return {value.get("id") for value in field.iterfind(f"{{{CAMUNDA}}}value")}


def test_the_decision_form_offers_exactly_what_the_table_can_recommend() -> None:
    root = etree.parse(str(DMN)).getroot()
    listed = root.findtext(".//{*}outputValues/{*}text")
    assert {value.strip().strip('"') for value in listed.split(",")} == OUTPUTS
    assert form_choices("confirm_decision", "decision") == OUTPUTS


def drive(variables: dict[str, Any]) -> dict[str, Any]:
    files = {p.name: p.read_bytes() for p in [*BPMN.glob("*.bpmn"), *BPMN.glob("*.dmn"), *BPMN.glob("forms/*.form")]}
    start = {"clientId": "example-client", "basicServicesDestination": "typ", "caseManager": "koordinaattori.testi",
             "plannedServices": [], **variables}
    return simulate(files, process="work_ability_support", variables=start, drive=True)


def test_each_recommendation_leads_the_case_where_it_says() -> None:
    own_worker = drive({**CASES[7][1], "basicServicesDestination": "own_worker"})
    assert own_worker["variables"]["decision"] == "no_case_manager_own_worker"
    assert own_worker["path"][-3:] == ["record_destination", "guidance_letter", "guided_to_basic_services"]
    assert "work_ability_team_review" not in own_worker["path"]
    team = drive(CASES[10][1])  # the dry run's team decides by its form's default
    assert "work_ability_team_review" in team["path"]
    coordinator = drive(CASES[1][1])
    assert coordinator["variables"]["decision"] == "coordinator"
    assert "record_assignment" in coordinator["path"] and "record_destination" not in coordinator["path"]


def test_the_path_question_has_no_default_the_coordinator_answers_it() -> None:
    variables = mapping(1, 1, 0, 0)
    del variables["pathClear"]
    result = drive(variables)
    assert result["status"] == "error"
    assert result["error"] == {"element": "needs_mapping", "message": "pathClear: is required"}
