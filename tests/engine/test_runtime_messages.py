"""Messages through the Engine: correlate by case id or business key, message start, variables."""

from __future__ import annotations

import pytest

from engine.errors import Conflict, NotFound
from engine.runtime import Engine
from tests.diagrams import chain, process
from tests.engine.runtime_support import (
    case_version,
    deploy_start,
    history_count,
    open_task_elements,
    race,
    snapshot,
)

MESSAGES = '<bpmn:message id="Msg_Reply" name="reply"/><bpmn:message id="Msg_New" name="newClaim"/>'


def waits_for_reply() -> bytes:
    return process("inquiry", """
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="await_reply" name="Await reply">
  <bpmn:messageEventDefinition messageRef="Msg_Reply"/>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="read_reply" name="Read reply"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "await_reply", "read_reply", "end"), extra=MESSAGES)


def started_by_message() -> bytes:
    return process("intake", """
<bpmn:startEvent id="received" name="Claim received">
  <bpmn:messageEventDefinition messageRef="Msg_New"/>
</bpmn:startEvent>
<bpmn:userTask id="register" name="Register"/>
<bpmn:endEvent id="end"/>
""" + chain("received", "register", "end"), extra=MESSAGES)


def test_correlate_by_case_id_delivers_variables(engine: Engine) -> None:
    case_id = deploy_start(engine, waits_for_reply(), "inquiry", variables={"asked": "price"})
    other = engine.start("inquiry")
    waiting = engine.case(case_id)["waiting"]
    assert [(w["kind"], w["id"], w["message"]) for w in waiting] == [("message", "await_reply", "reply")]
    other_before = snapshot(engine, other)

    assert engine.correlate("reply", case_id=case_id, variables={"answer": "12 €"}) == [case_id]

    assert open_task_elements(engine, case_id) == ["read_reply"]
    assert engine.case(case_id)["variables"] == {"asked": "price", "answer": "12 €"}
    assert snapshot(engine, case_id)["subscriptions"] == []
    assert snapshot(engine, other) == other_before
    with pytest.raises(NotFound, match=f"no case waits for message 'reply' for case {case_id}"):
        engine.correlate("reply", case_id=case_id)


def test_correlate_by_business_key(engine: Engine) -> None:
    engine.deploy({"inquiry.bpmn": waits_for_reply()})
    first = engine.start("inquiry", "INQ-1")
    second = engine.start("inquiry", "INQ-2")

    assert engine.correlate("reply", business_key="INQ-2", variables={"n": 2}) == [second]
    assert open_task_elements(engine, second) == ["read_reply"]
    assert open_task_elements(engine, first) == []
    with pytest.raises(NotFound, match="with business key INQ-3"):
        engine.correlate("reply", business_key="INQ-3")


def test_ambiguous_correlation_is_a_conflict_unless_all_matches(engine: Engine) -> None:
    engine.deploy({"inquiry.bpmn": waits_for_reply()})
    cases = sorted(engine.start("inquiry", "SAME") for _ in range(2))
    with pytest.raises(Conflict, match="matches 2 cases"):
        engine.correlate("reply", business_key="SAME")
    assert all(open_task_elements(engine, c) == [] for c in cases)
    assert sorted(engine.correlate("reply", business_key="SAME", all_matches=True)) == cases
    assert all(open_task_elements(engine, c) == ["read_reply"] for c in cases)


def test_unknown_message_is_not_found(engine: Engine) -> None:
    case_id = deploy_start(engine, waits_for_reply(), "inquiry")
    before = snapshot(engine, case_id)
    with pytest.raises(NotFound, match="no case waits for message 'nobody'"):
        engine.correlate("nobody")
    with pytest.raises(NotFound):
        engine.correlate("nobody", case_id=case_id)
    assert snapshot(engine, case_id) == before


def test_message_start_event_starts_a_case_with_the_message_variables(engine: Engine) -> None:
    engine.deploy({"intake.bpmn": started_by_message()})

    [case_id] = engine.correlate("newClaim", business_key="CLM-9", variables={"claimant": "Aino", "sum": 120})

    case = engine.case(case_id)
    assert (case["key"], case["businessKey"], case["status"]) == ("intake", "CLM-9", "active")
    assert case["variables"]["claimant"] == "Aino"
    assert case["variables"]["sum"] == 120
    assert open_task_elements(engine, case_id) == ["register"]
    # each correlation starts another case
    [again] = engine.correlate("newClaim", variables={"claimant": "Ben"})
    assert again != case_id
    assert engine.case(again)["variables"]["claimant"] == "Ben"


def test_message_start_is_ambiguous_when_two_processes_start_on_it(engine: Engine) -> None:
    engine.deploy({"intake.bpmn": started_by_message()})
    other = started_by_message().replace(b'id="intake"', b'id="intake2"')
    engine.deploy({"intake2.bpmn": other})
    with pytest.raises(Conflict, match="starts 2 processes"):
        engine.correlate("newClaim")


def test_two_correlations_racing_for_one_waiting_case_deliver_once(engine: Engine) -> None:
    case_id = deploy_start(engine, waits_for_reply(), "inquiry", "INQ-1")
    version = case_version(engine, case_id)

    results = race(lambda: engine.correlate("reply", business_key="INQ-1", variables={"by": "a"}),
                   lambda: engine.correlate("reply", business_key="INQ-1", variables={"by": "b"}))

    delivered = [r for r in results if r == [case_id]]
    assert len(delivered) == 1, results
    assert [type(r) for r in results if r != [case_id]] == [NotFound]
    assert case_version(engine, case_id) == version + 1
    assert history_count(engine, case_id, "await_reply") == 1
    assert open_task_elements(engine, case_id) == ["read_reply"]
    winner = "a" if results[0] == [case_id] else "b"
    assert engine.case(case_id)["variables"]["by"] == winner


def test_a_message_starts_a_process_that_also_has_a_none_start_on_the_message_path(engine):
    from tests.diagrams import chain, process

    body = ('<bpmn:startEvent id="manual_start"/><bpmn:startEvent id="by_message">'
            '<bpmn:messageEventDefinition messageRef="m_ref"/></bpmn:startEvent>'
            '<bpmn:userTask id="manual_intake"/><bpmn:userTask id="referral_intake" camunda:assignee="${who}"/>'
            '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
            + chain("manual_start", "manual_intake", "e1") + chain("by_message", "referral_intake", "e2"))
    engine.deploy({"two.bpmn": process("two_starts", body, extra='<bpmn:message id="m_ref" name="referral"/>')})
    (case_id,) = engine.correlate("referral", variables={"who": "anna"})
    (task,) = engine.open_tasks(case_id)
    assert task.element_id == "referral_intake" and task.assignee == "anna"
    manual = engine.start("two_starts")
    assert [t.element_id for t in engine.open_tasks(manual)] == ["manual_intake"]
    assert all(w["kind"] != "message" for w in engine.case(manual)["waiting"])
