"""Site variants of the process: `bpmn/sites/SITE/` is the main diagram with the site's decision form and table.

A county picks its model by deploying that directory (`POLKU_BPMN_DIR=bpmn/sites/iisalmi`), not by editing ours.
The site's diagram is built from the main one, so a change to the main process reaches every site:
run `.venv/bin/python -m polku.site_variants` after editing `bpmn/work-ability-support.bpmn`
(`tests/bpmn/test_site_variants.py` fails while a site is out of date). The site's DMN is written by hand;
`service-coordination.bpmn` is a link to the main one.
"""

from __future__ import annotations

import re
from pathlib import Path

from polku.settings import ROOT

MAIN = ROOT / "bpmn"
SITES = ROOT / "bpmn" / "sites"
DIAGRAM = "work-ability-support.bpmn"

# The coordinator's decision form: exactly the choices of the site's table, and who agreed in the network.
_DECISION_FIELD = re.compile(
    r'<camunda:formField id="decision" label="Päätös \(suositus esitäytetty\)" type="enum">.*?</camunda:formField>'
)
_CASE_MANAGER_FIELD = '<camunda:formField id="caseManager" label="Asiakasvastaava (käyttäjätunnus)" type="string">'
_REQUIRED = '<camunda:validation><camunda:constraint name="required" /></camunda:validation>'

IISALMI_DECISION = (
    f'<camunda:formField id="decision" label="Asiakasvastaava (suositus esitäytetty)" type="enum">{_REQUIRED}'
    '<camunda:value id="employment_services_official" name="Työllisyyspalvelujen viranhaltija asiakasvastaavaksi" />'
    '<camunda:value id="social_worker" name="Sosiaalityöntekijä asiakasvastaavaksi" /></camunda:formField>'
    '<camunda:formField id="caseManagerAgreedBy" label="Asiakasvastaavasta sovittu verkostossa (ketkä, milloin)" '
    f'type="string">{_REQUIRED}</camunda:formField>'
)
IISALMI_CASE_MANAGER = f"{_CASE_MANAGER_FIELD}{_REQUIRED}"

SITE_FORMS = {"iisalmi": (IISALMI_DECISION, IISALMI_CASE_MANAGER)}


def build(site: str, main_diagram: str) -> str:
    """The site's diagram: the main one with the confirm_decision form's decision and case manager fields replaced."""
    decision, case_manager = SITE_FORMS[site]
    text, found = _DECISION_FIELD.subn(lambda _: decision, main_diagram, count=1)
    if found != 1:
        raise ValueError(f"{DIAGRAM}: the decision task's 'decision' field was not found")
    start = text.index(decision)
    at = text.find(_CASE_MANAGER_FIELD, start)
    if at < 0:
        raise ValueError(f"{DIAGRAM}: the decision task's 'caseManager' field was not found")
    return text[:at] + case_manager + text[at + len(_CASE_MANAGER_FIELD):]


def write_all() -> list[Path]:
    """Rebuild every site's diagram from the main one; returns the files written."""
    main_diagram = (MAIN / DIAGRAM).read_text(encoding="utf-8")
    written = []
    for site in SITE_FORMS:
        path = SITES / site / DIAGRAM
        path.write_text(build(site, main_diagram), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path)
