"""The real Camunda Modeler files of ../shared/camunda-corpus: each reaches the wait state Camunda would reach,
or is refused with the element and the reason. The files are read where they are, never copied here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.camunda.parser.parser import parse_resources
from engine.errors import NotFound, ValidationFailed
from engine.simulate import simulate

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "camunda-corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no Camunda corpus at {CORPUS}")

INVOICE = ("invoice.v2.bpmn", "invoiceBusinessDecisions.dmn", "reviewInvoice.bpmn")
JOB_ANNOUNCEMENT = ("camunda-testing-job-announcement.bpmn", "camunda-testing-job-announcement-publication.bpmn")
INVOICE_VARS = {"amount": 900, "invoiceCategory": "Misc", "creditor": "X", "invoiceNumber": "1"}



def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.name.endswith((".bpmn", ".xml", ".dmn")))


def resources(*names: str) -> dict[str, bytes]:
    found = {p.name: p for p in corpus_files()}
    return {name: found[name].read_bytes() for name in names}


def deployment_of(name: str) -> dict[str, bytes]:
    """A file with the files it calls (or that call it), as a process owner would simulate it."""
    for group in (INVOICE, JOB_ANNOUNCEMENT):
        if name == group[0]:
            return resources(*group)
    return resources(name)


def ported_invoice() -> dict[str, bytes]:
    """The invoice example as a process owner would port it: its JavaScript task listeners taken out.

    Polku refuses scripts in other languages wherever they are; the listeners (which set the approver
    as assignee) are the only part of the example that needs porting. Done in memory, never on disk.
    """
    files = resources(*INVOICE)
    root = etree.fromstring(files[INVOICE[0]])
    for listener in root.iter("{http://camunda.org/schema/1.0/bpmn}taskListener"):
        listener.getparent().remove(listener)
    files[INVOICE[0]] = etree.tostring(root)
    return files


def waits(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w["kind"], w["id"]) for w in result["waiting"]]


# File → where Camunda would wait after starting it (first wait state), and details of those waits.
RUNS: dict[str, tuple[list[tuple[str, str]], dict[str, Any]]] = {
    "c7-user-task-form.bpmn": ([("userTask", "Task_1")], {"name": "Inspect Invoice"}),
    "simple-external-task.bpmn": ([("job", "externalTask")], {"topic": "ATopic"}),
    # the abstract task "Plain task" passes through; the user task waits
    "ProcessEngineTests-findTest.bpmn": ([("userTask", "UserTask_TestID")], {"name": "User task"}),
    # asyncBefore is ignored; the expression delegate is a worker's job; the event subprocess timer is armed
    "ProcessInstanceAssert-jobEventSubprocess.bpmn": ([("job", "ServiceTask_1"), ("timer", "StartEvent_2")],
                                                      {"topic": "${true}"}),
    # at an event-based gateway the wait is the catch event's behind it, as Camunda's subscription is
    "InputOutputEventTest.testMessageCatchAfterEventGateway.bpmn20.xml": (
        [("message", "IntermediateThrowEvent_0ok4v5r")], {"message": "foo"}),
    # only a message can start it: it waits for that message
    "message_start_process.bpmn": ([("message", "StartEvent_1")], {"message": "instantiationMessage"}),
    "camunda-testing-job-announcement.bpmn": ([("userTask", "edit")], {"candidateGroups": ["engineering"]}),
    "camunda-testing-job-announcement-publication.bpmn": (
        [("job", "publish_announcement_website")],
        {"topic": "#{jobAnnouncementService.postToWebsite(jobAnnouncementId)}"}),
    "reviewInvoice.bpmn": ([("userTask", "assignReviewer")], {"assignee": "demo"}),
    "FormDataTest.testMissingFormVariables.bpmn": ([("userTask", "UserTask_1")], {}),
}

# File → element id → words its refusal must contain: exactly what Camunda's semantics refuse.
REFUSED: dict[str, dict[str, list[str]]] = {
    "process.bpmn": {"scriptTask": ["groovy"]},
    "concurrentExecutionVariable.bpmn20.xml": {"Set_issue_id": ["groovy"],
                                               "Implement_feature_issue_id_set": ["groovy"]},
    "loan-granting.bpmn": {"Task_1lvjtd4": ["javascript", "inputParameter"]},
    # JavaScript task listeners set the approver as assignee: refused, not silently skipped (see ported_invoice)
    "invoice.v2.bpmn": {"approveInvoice": ["javascript", "taskListener"]},
    # both pools are isExecutable="false": the file's definitions element is named
    "pizza-collaboration.bpmn": {"_1275940932088": ["no executable process"]},
    "kitchen-sink.bpmn": {
        "ExclusiveGateway_08cpnyi": ["complex gateway"],
        "Task_0vcqxha": ["calledElement"],
        "Task_1suvpez": ["no implementation"],
        "Task_1165fo8": ["decisionRef"],
        "Task_1ank6jx": ["no script"],
        "BoundaryEvent_1fs6xst": ["timer"],
        "BoundaryEvent_0iiyz0j": ["messageRef"],
        "IntermediateThrowEvent_0iysg53": ["link"],
    },
}
DECISIONS_ONLY = "invoiceBusinessDecisions.dmn"


def test_the_tables_cover_the_whole_corpus():
    names = {p.name for p in corpus_files()}
    assert len(names) == 17
    assert names == set(RUNS) | set(REFUSED) | {DECISIONS_ONLY}


@pytest.mark.parametrize("name", list(RUNS))
def test_runs_to_the_wait_state_camunda_reaches(name):
    expected, details = RUNS[name]
    result = simulate(deployment_of(name))
    assert result["status"] == "waiting", result
    assert result["error"] is None
    assert sorted(waits(result)) == sorted(expected)
    first = result["waiting"][0]
    for key, value in details.items():
        assert first[key] == value, first


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_with_element_and_reason(name):
    with pytest.raises(ValidationFailed) as info:
        simulate(deployment_of(name))
    problems = info.value.problems
    assert all(p.file == name for p in problems)
    by_element = {p.element_id: p.reason for p in problems}
    for element, words in REFUSED[name].items():
        assert element in by_element, by_element
        for word in words:
            assert word in by_element[element], by_element[element]
    if name != "kitchen-sink.bpmn":
        assert set(by_element) == set(REFUSED[name])


def test_kitchen_sink_refusals_are_all_in_its_executable_process():
    with pytest.raises(ValidationFailed) as info:
        parse_resources(resources("kitchen-sink.bpmn"))
    # Process_0abj3w2 is not executable: nothing in it is reported
    assert not {p.element_id for p in info.value.problems} & {
        "Task_1sga8pc", "Task_0t0pnde", "Task_1mvn5bz", "StartEvent_124mvrl", "Task_11mt25q"}


def test_exactly_the_files_camunda_semantics_refuse_are_refused():
    refused, ran = set(), set()
    for path in corpus_files():
        if path.name == DECISIONS_ONLY:
            ran.add(path.name)
            continue
        try:
            simulate(deployment_of(path.name))
        except ValidationFailed:
            refused.add(path.name)
        else:
            ran.add(path.name)
    assert refused == set(REFUSED)
    assert len(ran) >= 11


def test_decisions_alone_deploy_but_there_is_nothing_to_start():
    parsed = parse_resources(resources(DECISIONS_ONLY))
    assert parsed.processes == {}
    assert "invoiceClassification" in parsed.decisions and "invoice-assign-approver" in parsed.decisions
    with pytest.raises(NotFound, match="no executable process"):
        simulate(resources(DECISIONS_ONLY))


# -- driven further ----------------------------------------------------------------------------------------


def test_ported_invoice_waits_for_the_approver_group_from_its_decisions():
    result = simulate(ported_invoice(), variables=INVOICE_VARS)
    assert result["status"] == "waiting" and result["error"] is None
    assert [(w["kind"], w["id"], w["candidateGroups"]) for w in result["waiting"]] == [
        ("userTask", "approveInvoice", ["management"])]


def test_invoice_runs_end_to_end_with_approver_groups_from_the_chained_decisions():
    result = simulate(ported_invoice(), drive=True, variables={
        **INVOICE_VARS, "approved": True, "clarified": True})
    assert result["status"] == "completed", result
    assert result["error"] is None and result["waiting"] == []
    # 900 in Misc is classified "budget" by the first decision, which the second maps to management
    assert result["variables"]["approverGroups"] == ["management"]
    assert result["path"] == ["StartEvent_1", "assignApprover", "approveInvoice", "invoice_approved",
                              "prepareBankTransfer", "ServiceTask_1", "invoiceProcessed"]


@pytest.mark.parametrize(("amount", "category", "groups"), [
    (100, "Misc", ["accounting", "sales"]),
    (5000, "Misc", ["management"]),
    (5000, "Travel Expenses", ["accounting", "sales"]),
    (10, "Software License Costs", ["management"]),
])
def test_invoice_approver_groups(amount, category, groups):
    result = simulate(ported_invoice(), variables={**INVOICE_VARS, "amount": amount, "invoiceCategory": category})
    assert result["waiting"][0]["candidateGroups"] == groups


def test_invoice_rejected_goes_through_the_called_review():
    result = simulate(ported_invoice(), drive=True, variables={
        **INVOICE_VARS, "approved": False, "clarified": False, "reviewer": "rita"})
    assert result["status"] == "completed", result
    assert result["path"][-3:] == ["reviewInvoice", "reviewSuccessful_gw", "invoiceNotProcessed"]
    assert "assignReviewer" in result["path"]


def test_job_announcement_fails_where_camunda_fails_without_its_bean():
    result = simulate(resources(*JOB_ANNOUNCEMENT), drive=True)
    assert result["status"] == "error"
    assert result["error"]["element"] == "review"
    assert "jobAnnouncementService" in result["error"]["message"]


def test_job_announcement_publication_follows_its_gateways():
    result = simulate(resources(JOB_ANNOUNCEMENT[1]), drive=True, variables={"twitter": True, "facebook": False})
    assert result["status"] == "completed", result
    assert "publish_announcement_twitter" in result["path"]
    assert "publish_announcement_facebook" not in result["path"]


def test_event_subprocess_timer_ends_with_the_process():
    result = simulate(resources("ProcessInstanceAssert-jobEventSubprocess.bpmn"), drive=True)
    assert result["status"] == "completed"
    assert result["path"] == ["StartEvent_1", "ServiceTask_1", "EndEvent_1"]


def test_find_test_passes_the_plain_task():
    result = simulate(resources("ProcessEngineTests-findTest.bpmn"))
    assert result["path"] == ["Start_TestID", "PlainTask_TestID"]


def test_message_after_event_gateway_applies_the_output_mapping(engine):
    engine.deploy(resources("InputOutputEventTest.testMessageCatchAfterEventGateway.bpmn20.xml"))
    case_id = engine.start("process")
    engine.correlate("foo", case_id=case_id)
    assert [t.element_id for t in engine.open_tasks(case_id)] == ["Task_140hnfz"]
    assert engine.case(case_id)["variables"]["foo"] == "bar"


def test_message_start_process_starts_on_its_message(engine):
    engine.deploy(resources("message_start_process.bpmn"))
    (case_id,) = engine.correlate("instantiationMessage", business_key="order-1")
    assert [t.element_id for t in engine.open_tasks(case_id)] == ["UserTask_1"]


def test_user_task_form_fields_are_read(engine):
    engine.deploy(resources("c7-user-task-form.bpmn"))
    (task,) = engine.open_tasks(engine.start("Process_1"))
    assert [f["id"] for f in task.form["fields"]] == ["invoiceNumber"]
