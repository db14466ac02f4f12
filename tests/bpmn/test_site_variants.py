"""The Iisalmi site variant (`bpmn/sites/iisalmi/`): deployable on its own, deciding as the IISAKKI pilot does.

Source: `shared/seeds/002_*` (IISAKKI, the Iisalmi work ability team): every client gets a named case manager when
the client relationship starts, an employment services official or, when the client has a client relationship
under the Social Welfare Act, the social worker; the case manager is agreed within the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.camunda.dmn import DecisionRegistry, parse_dmn
from engine.definitions import DefinitionStore
from engine.simulate import simulate
from polku.resources import collect_dir
from polku.site_variants import DIAGRAM, MAIN, SITE_FORMS, SITES, build

SITE = SITES / "iisalmi"
DMN = SITE / "case-manager-recommendation.dmn"
DECISION = "case_manager_recommendation"
POLKU = Path(sys.executable).with_name("polku")
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
OUTPUTS = {"employment_services_official", "social_worker"}


def mapping(physical: int = 0, psychological: int = 0, social: int = 0, cognitive: int = 0,
            path_clear: bool = True, own_worker: bool = False, can_help: bool = False,
            social_welfare: bool | None = False) -> dict[str, Any]:
    return {"physicalRating": physical, "psychologicalRating": psychological, "socialRating": social,
            "cognitiveRating": cognitive, "pathClear": path_clear, "hasOwnWorker": own_worker,
            "ownWorkerCanHelp": can_help, "socialWelfareClient": social_welfare}


CASES = [
    ("a social welfare client with broad needs and an unclear path: the social worker",
     mapping(2, 3, 2, 0, path_clear=False, social_welfare=True), "social_worker"),
    ("a social welfare client with light needs still gets a case manager: the social worker",
     mapping(1, 0, 0, 0, own_worker=True, can_help=True, social_welfare=True), "social_worker"),
    ("not a social welfare client, broad needs: the employment services official",
     mapping(3, 2, 2, 2, path_clear=False), "employment_services_official"),
    ("not a social welfare client, light needs and a clear path: still a case manager, the official",
     mapping(1, 1, 0, 0), "employment_services_official"),
    ("an own worker who can help does not replace the case manager",
     mapping(1, 1, 0, 0, own_worker=True, can_help=True), "employment_services_official"),
    ("social welfare relationship not recorded: the employment services official",
     mapping(2, 2, 0, 0, social_welfare=None), "employment_services_official"),
]


@pytest.fixture(scope="module")
def registry() -> DecisionRegistry:
    return DecisionRegistry(parse_dmn(DMN.read_bytes(), DMN.name))


def test_each_site_diagram_is_the_main_one_with_the_sites_decision_form() -> None:
    main = (MAIN / DIAGRAM).read_text(encoding="utf-8")
    for site in SITE_FORMS:
        assert (SITES / site / DIAGRAM).read_text(encoding="utf-8") == build(site, main), (
            f"bpmn/sites/{site}/{DIAGRAM} is out of date: run .venv/bin/python -m polku.site_variants")


def test_the_iisalmi_directory_deploys_on_its_own() -> None:
    files = collect_dir(SITE)
    assert set(files) == {"case-manager-recommendation.dmn", "service-coordination.bpmn", DIAGRAM, "forms/plan.form"}
    assert files["service-coordination.bpmn"] == (MAIN / "service-coordination.bpmn").read_bytes()
    deployment = DefinitionStore.validate(files)
    assert {"work_ability_support", "service_coordination"} <= set(deployment.processes)


@pytest.mark.parametrize(("why", "variables", "expected"), CASES, ids=[case[0] for case in CASES])
def test_the_iisalmi_table_decides_each_case_as_the_source_does(registry: DecisionRegistry, why: str,
                                                                 variables: dict[str, Any], expected: str) -> None:
    assert registry.evaluate(DECISION, variables) == [{"recommendation": expected}], why


def test_every_iisalmi_recommendation_is_reached() -> None:
    assert {expected for _, _, expected in CASES} == OUTPUTS


def test_polku_decide_on_the_iisalmi_table() -> None:
    result = subprocess.run([str(POLKU), "decide", str(DMN), "--vars", json.dumps(CASES[0][1])],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"decision": DECISION, "result": "social_worker",
                                         "matchedRules": ["rule_social_worker"]}


def test_the_iisalmi_decision_form_offers_exactly_what_its_table_can_recommend() -> None:
    listed = etree.parse(str(DMN)).getroot().findtext(".//{*}outputValues/{*}text")
    assert {value.strip().strip('"') for value in listed.split(",")} == OUTPUTS
    root = etree.parse(str(SITE / DIAGRAM)).getroot()
    (field,) = root.xpath("//*[@id='confirm_decision']//camunda:formField[@id='decision']",
                          namespaces={"camunda": CAMUNDA})
    assert {value.get("id") for value in field.iterfind(f"{{{CAMUNDA}}}value")} == OUTPUTS


def drive(variables: dict[str, Any]) -> dict[str, Any]:
    start = {"clientId": "example-client", "plannedServices": [], **variables}
    return simulate(collect_dir(SITE), process="work_ability_support", variables=start, drive=True)


def test_every_iisalmi_client_gets_the_named_case_manager_the_network_agreed() -> None:
    result = drive({**CASES[0][1], "caseManager": "sosiaalityo.testi",
                    "caseManagerAgreedBy": "Sosiaalityö ja työllisyyspalvelut, verkostopalaveri 3.3."})
    assert result["variables"]["decision"] == "social_worker"
    assert "record_assignment" in result["path"] and "record_destination" not in result["path"]
    assert "work_ability_team_review" not in result["path"]


def test_the_decision_needs_a_named_case_manager_and_who_agreed() -> None:
    without_agreement = drive({**CASES[3][1], "caseManager": "tyollisyys.testi"})
    assert without_agreement["error"] == {"element": "confirm_decision", "message": "caseManagerAgreedBy: is required"}
    without_manager = drive({**CASES[3][1], "caseManagerAgreedBy": "Työllisyyspalvelut"})
    assert without_manager["error"] == {"element": "confirm_decision", "message": "caseManager: is required"}


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_site_form_fields_and_choices_have_swedish_and_english_labels(language: str) -> None:
    labels = json.loads((MAIN / "i18n" / f"{language}.json").read_text())
    root = etree.parse(str(SITE / DIAGRAM)).getroot()
    missing = set()
    for field in root.iterfind(f".//{{{CAMUNDA}}}formField"):
        missing |= {field.get("id")} - labels.keys()
        missing |= {f"{field.get('id')}.{value.get('id')}" for value in field.iterfind(f"{{{CAMUNDA}}}value")
                    if field.get("id") == "decision"} - labels.keys()
    assert not missing, f"no {language} label for {sorted(missing)}"
