"""A case runs the same whichever process loads it: the parsed specs every case shares are never changed by one.

Each `Engine` over the same database stands for another Polku process (web app, worker, scheduler, or
the same one after a restart): it parses the definition afresh.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.models import MessageSubscription
from engine.runtime import Engine
from tests.diagrams import chain, process
from tests.engine.runtime_support import open_task

VOTES = process("votes", (
    '<bpmn:startEvent id="start"/>'
    '<bpmn:userTask id="vote" camunda:assignee="${voter}">'
    '<bpmn:multiInstanceLoopCharacteristics isSequential="false" camunda:collection="${voters}" '
    'camunda:elementVariable="voter"/></bpmn:userTask>'
    '<bpmn:userTask id="count"/><bpmn:endEvent id="end"/>' + chain("start", "vote", "count", "end")))

NOTES = process("noted", (
    '<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
    + chain("start", "work", "end")
    + '<bpmn:subProcess id="noting" triggeredByEvent="true">'
      '<bpmn:startEvent id="note_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m_note"/>'
      '</bpmn:startEvent><bpmn:userTask id="read_note"/><bpmn:endEvent id="note_end"/>'
    + chain("note_start", "read_note", "note_end") + '</bpmn:subProcess>'),
    extra='<bpmn:message id="m_note" name="note"/>')


def another_process(engine: Engine) -> Engine:
    return Engine(engine.db, clock=engine.clock)


def open_elements(engine: Engine, case_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.open_tasks(case_id))


def test_instances_created_in_one_process_and_finished_in_another_complete_the_multi_instance(
        engine: Engine) -> None:
    engine.deploy({"votes.bpmn": VOTES})
    case_id = engine.start("votes", None, {"voters": ["anna", "bert"]})
    worker = another_process(engine)
    for task in engine.open_tasks(case_id):
        worker.complete_task(task.id, {}, actor=task.assignee)
    assert open_elements(engine, case_id) == ["count"]


def test_a_message_started_event_subprocess_finishes_in_another_process(engine: Engine) -> None:
    engine.deploy({"noted.bpmn": NOTES})
    case_id = engine.start("noted", "N-1")
    assert engine.correlate("note", business_key="N-1") == [case_id]
    restarted = another_process(engine)
    restarted.complete_task(open_task(restarted, case_id, "read_note").id, {})
    restarted.complete_task(open_task(restarted, case_id, "work").id, {})
    assert restarted.case(case_id)["status"] == "completed"


def test_a_message_received_by_one_case_does_not_start_its_event_subprocess_in_the_next(engine: Engine) -> None:
    engine.deploy({"noted.bpmn": NOTES})
    first = engine.start("noted", "N-1")
    assert engine.correlate("note", business_key="N-1") == [first]
    second = engine.start("noted", "N-2")
    with engine.db.transaction() as session:
        waits = session.execute(select(MessageSubscription.message_name)
                                .where(MessageSubscription.case_id == second)).scalars().all()
    assert waits == ["note"]
    assert engine.correlate("note", business_key="N-2") == [second]
    assert open_elements(engine, second) == ["read_note", "work"]
