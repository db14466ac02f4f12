"""Pruning keeps a case's saved state proportional to its open work, and long loops correct.

Every scenario goes through the persisted engine, so every action reloads the case from the
database. Each one checks the routing (what is open after each step, what data arrived) and that
the saved state (`Case.state`) stays bounded however many passes the loop makes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.jobs import LockedJob, TopicRequest
from engine.models import Case, HistoryEvent, MessageSubscription, Task, TaskStatus
from engine.pruning import prune
from engine.runtime import Engine
from tests.diagrams import chain, flow, process

CONTINUE = "${decision == 'continue'}"
CLOSE = "${decision == 'close'}"


# -- helpers ---------------------------------------------------------------------------------------


def state_size(engine: Engine, case_id: str) -> int:
    with engine.db.transaction() as session:
        return len(session.execute(select(Case.state).where(Case.id == case_id)).scalar_one())


def saved_state(engine: Engine, case_id: str) -> dict[str, Any]:
    with engine.db.transaction() as session:
        return json.loads(session.execute(select(Case.state).where(Case.id == case_id)).scalar_one())


def history_counts(engine: Engine, case_id: str, element: str) -> dict[str, int]:
    """How many instances of an element the history holds, by final state."""
    with engine.db.transaction() as session:
        rows = session.execute(select(HistoryEvent.state, func.count()).where(
            HistoryEvent.case_id == case_id, HistoryEvent.element_id == element).group_by(HistoryEvent.state)).all()
    return {state: count for state, count in rows}


def open_elements(engine: Engine, case_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.open_tasks(case_id))


def complete(engine: Engine, case_id: str, element: str, data: Mapping[str, Any] | None = None) -> Any:
    tasks = [t for t in engine.open_tasks(case_id) if t.element_id == element]
    assert len(tasks) == 1, (element, open_elements(engine, case_id))
    engine.complete_task(tasks[0].id, dict(data or {}), actor="tester")
    return tasks[0]


def fetch_one(engine: Engine, topic: str) -> LockedJob:
    jobs = engine.fetch_and_lock("worker", [TopicRequest(topic)], max_jobs=10)
    assert len(jobs) == 1, (topic, [j.element_id for j in jobs])
    return jobs[0]


def no_jobs(engine: Engine, topic: str) -> bool:
    return engine.fetch_and_lock("worker", [TopicRequest(topic)], max_jobs=10) == []


class Bounded:
    """Records the saved state's size per pass; the size must stay within 2x the first pass's, and flat."""

    def __init__(self, engine: Engine, case_id: str) -> None:
        self.engine, self.case_id = engine, case_id
        self.sizes: list[int] = []

    def record(self) -> int:
        size = state_size(self.engine, self.case_id)
        self.sizes.append(size)
        assert size <= 2 * self.sizes[0], f"pass {len(self.sizes)}: {size} bytes, pass 1 had {self.sizes[0]}"
        return size

    def assert_flat(self) -> None:
        n = len(self.sizes)
        early, late = max(self.sizes[: max(1, n // 4)]), max(self.sizes[n // 2:])
        assert late <= early * 1.1, f"state grows: early max {early} bytes, late max {late} bytes"


def assert_completed_at(engine: Engine, case_id: str, end: str) -> None:
    case = engine.case(case_id)
    assert case["status"] == "completed", case
    assert case["waiting"] == []
    assert history_counts(engine, case_id, end) == {"completed": 1}


# -- (a) the follow-up loop: user task -> external job -> gateway back ----------------------------------

FOLLOW_UP = process("follow_up", (
    '<bpmn:startEvent id="start"/>'
    '<bpmn:userTask id="review" name="Review" camunda:candidateGroups="coordinators"/>'
    '<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="notify"/>'
    '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
    + chain("start", "review", "notify", "gw") + flow("again", "gw", "review", CONTINUE)
    + flow("done", "gw", "end", CLOSE)))


def follow_up_cycle(engine: Engine, case_id: str, i: int, decision: str = "continue") -> None:
    """One pass: the reviewer decides, the worker counts (reading the counter the case carries)."""
    complete(engine, case_id, "review", {"decision": decision})
    job = fetch_one(engine, "notify")
    assert job.variables["count"] == i, f"cycle {i}: the case carries count={job.variables['count']}"
    engine.complete_job(job.id, "worker", {"count": i + 1})


@pytest.mark.slow
def test_follow_up_loop_runs_2000_cycles_keeps_its_data_and_ends_at_its_end_event(engine: Engine) -> None:
    engine.deploy({"follow_up.bpmn": FOLLOW_UP})
    case_id = engine.start("follow_up", "FU-1", {"count": 0})
    bounded = Bounded(engine, case_id)
    cycles = 2000
    for i in range(cycles):
        follow_up_cycle(engine, case_id, i)
        bounded.record()
    bounded.assert_flat()
    assert engine.case(case_id)["variables"]["count"] == cycles

    follow_up_cycle(engine, case_id, cycles, decision="close")

    assert_completed_at(engine, case_id, "end")
    assert engine.case(case_id)["variables"]["count"] == cycles + 1
    assert history_counts(engine, case_id, "review") == {"completed": cycles + 1}
    assert history_counts(engine, case_id, "notify") == {"completed": cycles + 1}
    with engine.db.transaction() as session:
        rows = session.execute(select(Task.status, func.count()).where(Task.case_id == case_id)
                               .group_by(Task.status)).all()
    assert dict(rows) == {TaskStatus.COMPLETED: cycles + 1}


def test_stock_spiffworkflow_loses_a_long_loop_and_pruning_keeps_it() -> None:
    """Why pruning exists: stock SpiffWorkflow's task iterator stops at depth 1000.

    Each pass of a 3-node loop hangs three levels deeper, so after ~333 passes stock
    SpiffWorkflow no longer sees the open user task and reports the workflow completed,
    though its end event never ran. Pruned after each pass, the same loop keeps going and
    ends at its end event.
    """
    xml = process("loop", (
        '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
        '<bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>'
        '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
        + chain("start", "review", "count", "gw") + flow("again", "gw", "review", "decision == 'continue'")
        + flow("done", "gw", "end", "decision == 'close'")))
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml), filename="loop.bpmn")
    spec = parser.get_spec("loop")

    def run(passes: int, pruned: bool) -> BpmnWorkflow:
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        workflow.get_next_task(state=TaskState.READY).set_data(n=0)
        for _ in range(passes):
            review = workflow.get_next_task(state=TaskState.READY, manual=True)
            if review is None:
                break
            review.set_data(decision="continue")
            review.run()
            workflow.do_engine_steps()
            if pruned:
                prune(workflow)
        return workflow

    def end_completed(workflow: BpmnWorkflow) -> bool:
        return any(t.task_spec.name == "end" and t.state == TaskState.COMPLETED for t in workflow.tasks.values())

    stock = run(340, pruned=False)
    assert stock.is_completed()  # ... says stock SpiffWorkflow
    assert not end_completed(stock)  # but the end event never ran
    assert stock.get_next_task(state=TaskState.READY, manual=True) is None  # and the open task is lost

    pruned = run(340, pruned=True)
    assert not pruned.is_completed()
    review = pruned.get_next_task(state=TaskState.READY, manual=True)
    assert review is not None and review.data["n"] == 340
    assert len(pruned.tasks) < 20
    review.set_data(decision="close")
    review.run()
    pruned.do_engine_steps()
    assert pruned.is_completed() and end_completed(pruned)
    assert pruned.last_task.data["n"] == 341


def test_a_user_task_pruned_in_the_action_that_completed_it_is_recorded_completed(engine: Engine) -> None:
    """Many automatic steps after a user task push it out of the kept chain in the same save."""
    steps = [f"s{k}" for k in range(8)]
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
            + "".join(f'<bpmn:scriptTask id="{s}"><bpmn:script>k = {k}</bpmn:script></bpmn:scriptTask>'
                      for k, s in enumerate(steps))
            + '<bpmn:userTask id="next"/><bpmn:endEvent id="end"/>' + chain("start", "review", *steps, "next", "end"))
    engine.deploy({"steps.bpmn": process("steps", body)})
    case_id = engine.start("steps")
    task = complete(engine, case_id, "review")
    assert open_elements(engine, case_id) == ["next"]
    assert str(task.id) not in json.dumps(saved_state(engine, case_id)["tasks"])  # pruned already
    with engine.db.transaction() as session:
        row = session.get(Task, task.id)
    assert row.status == TaskStatus.COMPLETED and row.completed_by == "tester"


# -- (b) a parallel split/join inside the loop -------------------------------------------------------

PARALLEL = process("parallel", (
    '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:parallelGateway id="split"/>'
    '<bpmn:userTask id="legal"/><bpmn:serviceTask id="finance" camunda:type="external" camunda:topic="finance"/>'
    '<bpmn:parallelGateway id="join"/><bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
    + chain("start", "review", "split", "legal", "join", "gw") + chain("split", "finance", "join")
    + flow("again", "gw", "review", CONTINUE) + flow("done", "gw", "end", CLOSE)))


def test_loop_with_parallel_branches_joins_both_branches_on_every_pass(engine: Engine) -> None:
    engine.deploy({"parallel.bpmn": PARALLEL})
    case_id = engine.start("parallel", None, {"legal": -1, "finance": -1})
    bounded = Bounded(engine, case_id)
    passes = 60
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        complete(engine, case_id, "review", {"decision": decision, "pass": i})
        assert open_elements(engine, case_id) == ["legal"]
        job = fetch_one(engine, "finance")
        assert job.variables["pass"] == i
        if i % 2 == 0:  # legal first, then finance
            complete(engine, case_id, "legal", {"legal": i})
            assert open_elements(engine, case_id) == [], f"pass {i}: the join fired before finance arrived"
            engine.complete_job(job.id, "worker", {"finance": i})
        else:  # finance first, then legal
            engine.complete_job(job.id, "worker", {"finance": i})
            assert open_elements(engine, case_id) == ["legal"], f"pass {i}: the join fired before legal arrived"
            assert no_jobs(engine, "finance")
            complete(engine, case_id, "legal", {"legal": i})
        if decision == "continue":
            assert open_elements(engine, case_id) == ["review"]
            variables = engine.case(case_id)["variables"]
            assert (variables["legal"], variables["finance"]) == (i, i), f"pass {i}: {variables}"
            bounded.record()
    bounded.assert_flat()
    assert_completed_at(engine, case_id, "end")
    # the first branch to arrive waits at its own join instance, cancelled when the second arrives
    assert history_counts(engine, case_id, "join") == {"completed": passes, "cancelled": passes}
    assert history_counts(engine, case_id, "legal") == {"completed": passes}
    assert history_counts(engine, case_id, "finance") == {"completed": passes}
    variables = engine.case(case_id)["variables"]
    assert (variables["legal"], variables["finance"]) == (passes - 1, passes - 1)


def test_loop_with_three_parallel_branches_in_every_arrival_order(engine: Engine) -> None:
    """While the join waits for the third branch, the first branch's (cancelled) join instance must stay."""
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:parallelGateway id="split"/>'
            '<bpmn:userTask id="a"/><bpmn:userTask id="b"/><bpmn:userTask id="c"/>'
            '<bpmn:parallelGateway id="join"/><bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
            + chain("start", "review", "split", "a", "join", "gw") + chain("split", "b", "join")
            + chain("split", "c", "join") + flow("again", "gw", "review", CONTINUE) + flow("done", "gw", "end", CLOSE))
    engine.deploy({"three.bpmn": process("three", body)})
    case_id = engine.start("three", None, {"a": -1, "b": -1, "c": -1})
    bounded = Bounded(engine, case_id)
    orders = list(itertools.permutations("abc"))
    passes = 36
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        complete(engine, case_id, "review", {"decision": decision})
        order = orders[i % len(orders)]
        for k, branch in enumerate(order):
            assert open_elements(engine, case_id) == sorted(order[k:]), f"pass {i}, order {order}"
            complete(engine, case_id, branch, {branch: i})
        if decision == "continue":
            assert open_elements(engine, case_id) == ["review"]
            variables = engine.case(case_id)["variables"]
            assert (variables["a"], variables["b"], variables["c"]) == (i, i, i), f"pass {i}: {variables}"
            bounded.record()
    bounded.assert_flat()
    assert_completed_at(engine, case_id, "end")


def inclusive_loop(back_to: str) -> bytes:
    return process("inclusive", (
        '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:inclusiveGateway id="split"/>'
        '<bpmn:userTask id="legal"/><bpmn:userTask id="finance"/>'
        '<bpmn:inclusiveGateway id="join"/><bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
        + chain("start", "review", "split") + flow("to_legal", "split", "legal", "${true}")
        + flow("to_finance", "split", "finance", "${needFinance}")
        + chain("legal", "join", "gw") + chain("finance", "join")
        + flow("again", "gw", back_to, CONTINUE) + flow("done", "gw", "end", CLOSE)))


@pytest.mark.parametrize("back_to", ["review", "split"])
def test_loop_with_inclusive_branches_joins_the_taken_branches_on_every_pass(engine: Engine, back_to: str) -> None:
    """Also when the loop goes straight back to the split, with no other task between two passes."""
    engine.deploy({"inclusive.bpmn": inclusive_loop(back_to)})
    case_id = engine.start("inclusive", None, {"legal": -1, "finance": -1, "needFinance": True})
    bounded = Bounded(engine, case_id)
    complete(engine, case_id, "review", {"decision": "continue"})
    passes = 40
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        if back_to == "review" and i > 0:
            complete(engine, case_id, "review", {"decision": decision})
        both = i % 4 != 3
        if both:
            assert open_elements(engine, case_id) == ["finance", "legal"]
            first, second = ("legal", "finance") if i % 2 else ("finance", "legal")
            complete(engine, case_id, first, {first: i})
            assert open_elements(engine, case_id) == [second], f"pass {i}: the join fired before {second} arrived"
        else:
            assert open_elements(engine, case_id) == ["legal"]
            second = "legal"
        # the next pass takes the finance branch only when this one says so
        complete(engine, case_id, second, {second: i, "decision": decision, "needFinance": (i + 1) % 4 != 3})
        if decision == "continue":
            expected = ["review"] if back_to == "review" else (["finance", "legal"] if (i + 1) % 4 != 3 else ["legal"])
            assert open_elements(engine, case_id) == expected
            variables = engine.case(case_id)["variables"]
            assert variables["legal"] == i and variables["finance"] == (i if both else i - 1), f"pass {i}: {variables}"
            bounded.record()
    bounded.assert_flat()
    assert_completed_at(engine, case_id, "end")
    assert history_counts(engine, case_id, "legal") == {"completed": passes}


# -- (c) boundary timers on the looped user task --------------------------------------------------------


def timer(duration: str) -> str:
    return f'<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>'


BOUNDARY = process("boundary", (
    '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
    f'<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">{timer("PT1H")}'
    '</bpmn:boundaryEvent>'
    f'<bpmn:boundaryEvent id="overdue" attachedToRef="review" cancelActivity="true">{timer("P1D")}'
    '</bpmn:boundaryEvent>'
    '<bpmn:serviceTask id="sendReminder" camunda:type="external" camunda:topic="remind"/>'
    '<bpmn:endEvent id="reminded"/><bpmn:userTask id="escalate"/>'
    '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
    + chain("start", "review", "gw") + chain("remind", "sendReminder", "reminded") + chain("overdue", "escalate", "gw")
    + flow("again", "gw", "review", CONTINUE) + flow("done", "gw", "end", CLOSE)))


def test_loop_with_boundary_timers_fired_on_some_passes(engine: Engine, clock: Any) -> None:
    engine.deploy({"boundary.bpmn": BOUNDARY})
    case_id = engine.start("boundary")
    bounded = Bounded(engine, case_id)
    passes, reminders, escalations = 90, [], 0
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        assert open_elements(engine, case_id) == ["review"]
        if i % 5 == 2:  # a day passes: the reminder goes out, then review is overdue and escalated
            clock.advance(hours=25)
            assert engine.fire_due_timers() >= 1  # both are due; one case transaction may fire both
            assert open_elements(engine, case_id) == ["escalate"]
            job = fetch_one(engine, "remind")
            engine.complete_job(job.id, "worker", {f"reminder{i % 4}": i})  # a bounded set of variables
            reminders.append(i)
            complete(engine, case_id, "escalate", {"decision": decision})
            escalations += 1
        else:
            if i % 3 == 1:  # two hours pass: only the reminder goes out, review stays open
                clock.advance(hours=2)
                assert engine.fire_due_timers() == 1
                assert open_elements(engine, case_id) == ["review"]
                job = fetch_one(engine, "remind")
                engine.complete_job(job.id, "worker", {f"reminder{i % 4}": i})
                reminders.append(i)
                assert open_elements(engine, case_id) == ["review"]
            complete(engine, case_id, "review", {"decision": decision})
        assert no_jobs(engine, "remind")
        assert engine.fire_due_timers() == 0
        if decision == "continue":
            bounded.record()
    bounded.assert_flat()
    assert_completed_at(engine, case_id, "end")
    n = len(reminders)
    assert history_counts(engine, case_id, "remind") == {"completed": n, "cancelled": passes - n}
    assert history_counts(engine, case_id, "overdue") == {"completed": escalations, "cancelled": passes - escalations}
    assert history_counts(engine, case_id, "review") == {"completed": passes - escalations, "cancelled": escalations}
    assert history_counts(engine, case_id, "reminded") == {"completed": n}
    assert history_counts(engine, case_id, "escalate") == {"completed": escalations}
    # As unpruned: the ended reminder branches' data is merged into the case's final data, the latest value won.
    variables = engine.case(case_id)["variables"]
    expected = {f"reminder{i % 4}": i for i in reminders}
    assert {k: v for k, v in variables.items() if k.startswith("reminder")} == expected



@pytest.mark.parametrize("sequential", [True, False])
def test_loop_with_a_multi_instance_task_and_an_error_boundary_event(engine: Engine, sequential: bool) -> None:
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
            '<bpmn:userTask id="vote" camunda:assignee="${voter}">'
            f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}" '
            'camunda:collection="${voters}" camunda:elementVariable="voter"/>'
            '</bpmn:userTask><bpmn:serviceTask id="file" camunda:type="external" camunda:topic="file"/>'
            '<bpmn:boundaryEvent id="rejected" attachedToRef="file"><bpmn:errorEventDefinition errorRef="e_rejected"/>'
            '</bpmn:boundaryEvent><bpmn:userTask id="fix"/><bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
            + chain("start", "review", "vote", "file", "gw") + chain("rejected", "fix", "gw")
            + flow("again", "gw", "review", CONTINUE) + flow("done", "gw", "end", CLOSE))
    engine.deploy({"votes.bpmn": process("votes", body, '<bpmn:error id="e_rejected" errorCode="REJECTED"/>')})
    case_id = engine.start("votes", None, {"voters": ["anna", "bert", "cecilia"]})
    bounded = Bounded(engine, case_id)
    passes, errors = 40, 0
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        complete(engine, case_id, "review", {"decision": decision})
        voted = []
        for _ in range(3):
            task = next(t for t in engine.open_tasks(case_id) if t.element_id == "vote")
            voted.append(task.assignee)
            engine.complete_task(task.id, {}, actor=task.assignee)
        assert sorted(voted) == ["anna", "bert", "cecilia"]
        assert open_elements(engine, case_id) == []
        job = fetch_one(engine, "file")
        if i % 3 == 0:
            engine.bpmn_error(job.id, "worker", "REJECTED")
            complete(engine, case_id, "fix", {"decision": decision})
            errors += 1
        else:
            engine.complete_job(job.id, "worker", {"decision": decision})
        if decision == "continue":
            assert open_elements(engine, case_id) == ["review"]
            bounded.record()
    bounded.assert_flat()
    assert_completed_at(engine, case_id, "end")
    assert history_counts(engine, case_id, "rejected") == {"completed": errors, "cancelled": passes - errors}
    assert history_counts(engine, case_id, "fix") == {"completed": errors}


# -- (d) an embedded subprocess and (e) a call activity in the loop --------------------------------------


def subprocesses_in_state(engine: Engine, case_id: str) -> int:
    return len(saved_state(engine, case_id)["subprocesses"])


def run_loop_through_subprocess(engine: Engine, case_id: str, passes: int) -> None:
    """review -> (check inside the subprocess or callee) -> review ...; check's data must come back out."""
    bounded = Bounded(engine, case_id)
    for i in range(passes):
        decision = "continue" if i < passes - 1 else "close"
        complete(engine, case_id, "review", {"decision": decision, "pass": i})
        assert open_elements(engine, case_id) == []
        job = fetch_one(engine, "inside")
        assert job.variables["pass"] == i
        engine.complete_job(job.id, "worker", {"inside": i})
        assert open_elements(engine, case_id) == ["check"]
        complete(engine, case_id, "check", {"checked": i})
        if decision == "continue":
            assert open_elements(engine, case_id) == ["review"]
            variables = engine.case(case_id)["variables"]
            assert (variables["checked"], variables["inside"]) == (i, i), f"pass {i}: {variables}"
            assert subprocesses_in_state(engine, case_id) <= 2
            bounded.record()
    bounded.assert_flat()


INNER = ('<bpmn:startEvent id="inner_start"/>'
         '<bpmn:serviceTask id="inside" camunda:type="external" camunda:topic="inside"/>'
         '<bpmn:userTask id="check"/><bpmn:endEvent id="inner_end"/>'
         + chain("inner_start", "inside", "check", "inner_end"))


def test_loop_through_an_embedded_subprocess(engine: Engine) -> None:
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
            f'<bpmn:subProcess id="sub">{INNER}</bpmn:subProcess>'
            '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
            + chain("start", "review", "sub", "gw") + flow("again", "gw", "review", CONTINUE)
            + flow("done", "gw", "end", CLOSE))
    engine.deploy({"embedded.bpmn": process("embedded", body)})
    case_id = engine.start("embedded")
    passes = 60
    run_loop_through_subprocess(engine, case_id, passes)
    assert_completed_at(engine, case_id, "end")
    assert history_counts(engine, case_id, "sub") == {"completed": passes}
    assert history_counts(engine, case_id, "inner_end") == {"completed": passes}
    assert history_counts(engine, case_id, "check") == {"completed": passes}


def test_loop_through_a_call_activity(engine: Engine) -> None:
    caller = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
              '<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>'
              '<camunda:in variables="all"/><camunda:out variables="all"/></bpmn:extensionElements></bpmn:callActivity>'
              '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
              + chain("start", "review", "call", "gw") + flow("again", "gw", "review", CONTINUE)
              + flow("done", "gw", "end", CLOSE))
    engine.deploy({"caller.bpmn": process("caller", caller), "callee.bpmn": process("callee", INNER)})
    case_id = engine.start("caller")
    passes = 60
    run_loop_through_subprocess(engine, case_id, passes)
    assert_completed_at(engine, case_id, "end")
    assert history_counts(engine, case_id, "call") == {"completed": passes}
    assert history_counts(engine, case_id, "inner_end") == {"completed": passes}


# -- (f) an event subprocess that waits for a message the whole time -------------------------------------

MESSAGES = '<bpmn:message id="m_note" name="note"/><bpmn:message id="m_withdraw" name="withdraw"/>'


def event_subprocess(sub_id: str, message: str, interrupting: bool, task: str) -> str:
    flag = "true" if interrupting else "false"
    return (f'<bpmn:subProcess id="{sub_id}" triggeredByEvent="true">'
            f'<bpmn:startEvent id="{sub_id}_start" isInterrupting="{flag}">'
            f'<bpmn:messageEventDefinition messageRef="{message}"/></bpmn:startEvent>'
            f'<bpmn:userTask id="{task}"/><bpmn:endEvent id="{sub_id}_end"/>'
            + chain(f"{sub_id}_start", task, f"{sub_id}_end") + '</bpmn:subProcess>')


def subscriptions(engine: Engine, case_id: str) -> list[str]:
    with engine.db.transaction() as session:
        return sorted(session.execute(select(MessageSubscription.message_name)
                                      .where(MessageSubscription.case_id == case_id)).scalars())


def test_event_subprocesses_stay_catchable_through_a_long_loop(engine: Engine) -> None:
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
            '<bpmn:serviceTask id="notify" camunda:type="external" camunda:topic="notify"/>'
            '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
            + chain("start", "review", "notify", "gw") + flow("again", "gw", "review", CONTINUE)
            + flow("done", "gw", "end", CLOSE)
            + event_subprocess("noting", "m_note", False, "note")
            + event_subprocess("withdrawal", "m_withdraw", True, "confirm"))
    engine.deploy({"esp.bpmn": process("esp", body, MESSAGES)})
    case_id = engine.start("esp", "ESP-1", {"count": 0})
    bounded = Bounded(engine, case_id)
    cycles = 300
    for i in range(cycles):
        follow_up_cycle(engine, case_id, i)
        if i % 50 == 25:  # a non-interrupting note arrives beside the loop, and is handled
            assert engine.correlate("note", business_key="ESP-1", variables={"noted": i}) == [case_id]
            assert open_elements(engine, case_id) == ["note", "review"]
            complete(engine, case_id, "note")
        assert open_elements(engine, case_id) == ["review"]
        assert subscriptions(engine, case_id) == ["note", "withdraw"]
        bounded.record()
    bounded.assert_flat()

    assert engine.correlate("withdraw", business_key="ESP-1", variables={"reason": "moved"}) == [case_id]
    assert open_elements(engine, case_id) == ["confirm"]
    complete(engine, case_id, "confirm")
    case = engine.case(case_id)
    assert case["status"] == "completed" and case["waiting"] == []
    assert history_counts(engine, case_id, "withdrawal_end") == {"completed": 1}
    assert history_counts(engine, case_id, "review") == {"completed": cycles, "cancelled": 1}
    assert history_counts(engine, case_id, "note") == {"completed": cycles // 50}
    assert history_counts(engine, case_id, "end") == {}
