"""The Engine facade as a user meets it: deploy, start, complete tasks, conflicts, rollback, claim, cancel."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from engine.db import Database
from engine.errors import Conflict, FormError, NotFound, ProcessError
from engine.jobs import TopicRequest
from engine.models import Case, CaseStatus, Task, TaskStatus
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, flow, process
from tests.engine.runtime_support import (
    case_version,
    deploy_start,
    history,
    jobs_of,
    open_task,
    open_task_elements,
    race,
    snapshot,
    timers_of,
    two_tasks,
    user_then_job,
)

# -- start and deploy ------------------------------------------------------------------------------


def test_start_returns_case_id_and_case_shows_status_version_waiting_variables(engine: Engine) -> None:
    case_id = deploy_start(engine, user_then_job(), "claim", "ORDER-7", {"customer": "Aino", "amount": 3})

    case = engine.case(case_id)
    assert case["id"] == case_id
    assert case["key"] == "claim"
    assert case["version"] == 1
    assert case["status"] == "active"
    assert case["businessKey"] == "ORDER-7"
    assert [(w["kind"], w["id"], w["name"]) for w in case["waiting"]] == [("userTask", "review", "Review")]
    assert case["variables"]["customer"] == "Aino"
    assert case["variables"]["amount"] == 3
    assert case["endedAt"] is None
    assert [c["id"] for c in engine.cases(CaseStatus.ACTIVE)] == [case_id]


def test_unknown_case_and_unknown_key_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound, match="no process definition with key 'nope'"):
        engine.start("nope")
    with pytest.raises(NotFound, match="case missing does not exist"):
        engine.case("missing")
    with pytest.raises(NotFound):
        engine.complete_task("00000000-0000-0000-0000-000000000000", {})


def test_deploying_identical_content_twice_keeps_version_1(engine: Engine) -> None:
    first = engine.deploy({"claim.bpmn": user_then_job()})
    again = engine.deploy({"claim.bpmn": user_then_job()})
    assert first.definitions == [("claim", 1, True)]
    assert again.definitions == [("claim", 1, False)]
    assert again.deployment_id is None
    assert engine.case(engine.start("claim"))["version"] == 1


def test_changed_content_is_version_2_and_running_cases_stay_on_version_1(engine: Engine) -> None:
    engine.deploy({"claim.bpmn": user_then_job(topic="notify")})
    old_case = engine.start("claim")
    changed = engine.deploy({"claim.bpmn": user_then_job(topic="notify-v2")})
    assert changed.definitions == [("claim", 2, True)]
    new_case = engine.start("claim")

    assert engine.case(old_case)["version"] == 1
    assert engine.case(new_case)["version"] == 2
    # the old case keeps running its own diagram: its job has the version-1 topic
    for case_id in (old_case, new_case):
        engine.complete_task(open_task(engine, case_id).id, {"amount": "1"})
    assert [j.topic for j in jobs_of(engine, old_case)] == ["notify"]
    assert [j.topic for j in jobs_of(engine, new_case)] == ["notify-v2"]


# -- complete_task -------------------------------------------------------------------------------


def test_invalid_form_data_names_every_bad_field_and_changes_nothing(engine: Engine) -> None:
    case_id = deploy_start(engine, user_then_job(), "claim")
    task = open_task(engine, case_id)
    before = snapshot(engine, case_id)

    with pytest.raises(FormError) as err:
        engine.complete_task(task.id, {"decision": "maybe"}, actor="anna")
    assert set(err.value.errors) == {"amount", "decision"}
    with pytest.raises(FormError) as err:
        engine.complete_task(task.id, {"amount": "twelve", "decision": "approve"}, actor="anna")
    assert set(err.value.errors) == {"amount"}
    assert "amount" in str(err.value)

    assert snapshot(engine, case_id) == before
    assert open_task(engine, case_id).id == task.id


def test_valid_form_data_is_typed_and_stored(engine: Engine) -> None:
    case_id = deploy_start(engine, user_then_job(), "claim")
    engine.complete_task(open_task(engine, case_id).id, {"amount": "42", "decision": "approve"}, actor="anna")

    case = engine.case(case_id)
    assert case["variables"]["amount"] == 42
    assert case["variables"]["decision"] == "approve"
    assert [w["id"] for w in case["waiting"]] == ["notify"]
    assert [j.variables["amount"] for j in jobs_of(engine, case_id)] == [42]


def test_history_records_element_trail_with_actor_on_the_completed_task(engine: Engine) -> None:
    case_id = deploy_start(engine, user_then_job(), "claim")
    task = open_task(engine, case_id)
    engine.complete_task(task.id, {"amount": "5"}, actor="anna")

    rows = [(h.element_id, h.state) for h in history(engine, case_id)]
    assert rows == [("start", "completed"), ("review", "completed"), ("notify", "active")]
    by_element = {h.element_id: h for h in history(engine, case_id)}
    assert by_element["review"].actor == "anna"
    assert by_element["review"].element_name == "Review"
    assert by_element["review"].ended_at is not None
    assert by_element["start"].actor is None
    with engine.db.transaction() as s:
        row = s.get(Task, task.id)
        assert row is not None
        assert (row.status, row.completed_by) == (TaskStatus.COMPLETED, "anna")


def test_completing_the_last_task_completes_the_case(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    engine.complete_task(open_task(engine, case_id, "first").id, {"note": "a"})
    engine.complete_task(open_task(engine, case_id, "second").id, {})
    case = engine.case(case_id)
    assert case["status"] == "completed"
    assert case["waiting"] == []
    assert case["variables"]["note"] == "a"
    assert case["endedAt"] is not None


# -- conflicts -------------------------------------------------------------------------------------


def test_second_completion_of_a_task_is_a_conflict_naming_who_did_it(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    engine.complete_task(task.id, {}, actor="anna")
    version = case_version(engine, case_id)

    with pytest.raises(Conflict, match="already completed by anna"):
        engine.complete_task(task.id, {}, actor="ben")
    assert case_version(engine, case_id) == version
    assert open_task_elements(engine, case_id) == ["second"]


def test_two_threads_completing_the_same_task_one_wins(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    version = case_version(engine, case_id)

    results = race(lambda: engine.complete_task(task.id, {"by": "anna"}, actor="anna"),
                   lambda: engine.complete_task(task.id, {"by": "ben"}, actor="ben"))

    assert sum(r is None for r in results) == 1
    assert [type(r) for r in results if r is not None] == [Conflict]
    assert case_version(engine, case_id) == version + 1
    assert open_task_elements(engine, case_id) == ["second"]
    assert sum(1 for h in history(engine, case_id) if h.element_id == "first") == 1
    winner = "anna" if results[0] is None else "ben"
    assert engine.case(case_id)["variables"]["by"] == winner


def test_stale_case_version_is_a_conflict(engine: Engine) -> None:
    """A save against a version someone else already moved past is refused (optimistic check)."""
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    with pytest.raises(Conflict, match="changed by someone else"), engine.tx.open(case_id) as ctx:
        set_committed_value(ctx.case, "version", ctx.case.version - 1)  # as if loaded before another save
    assert open_task(engine, case_id).id == task.id


# -- rollback ---------------------------------------------------------------------------------------


def rollback_diagram() -> bytes:
    return process("gate", """
<bpmn:startEvent id="start"/>
<bpmn:userTask id="check" name="Check"/>
<bpmn:exclusiveGateway id="gw" name="Big?"/>
<bpmn:serviceTask id="job" camunda:type="external" camunda:topic="big"/>
<bpmn:endEvent id="end"/>
<bpmn:boundaryEvent id="late" attachedToRef="check" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="late_end"/>
""" + chain("start", "check", "gw") + flow("big", "gw", "job", "${unknownVar > 1}")
        + flow("small", "gw", "end", "${unknownVar &lt;= 1}") + chain("job", "end") + chain("late", "late_end"))


def test_expression_error_after_the_task_rolls_everything_back(engine: Engine) -> None:
    case_id = deploy_start(engine, rollback_diagram(), "gate")
    task = open_task(engine, case_id)
    before = snapshot(engine, case_id)
    assert len(before["timers"]) == 1

    with pytest.raises(ProcessError) as err:
        engine.complete_task(task.id, {"x": 1}, actor="anna")
    assert err.value.element_id == "gw"
    assert "unknownVar" in str(err.value)

    assert snapshot(engine, case_id) == before
    assert open_task(engine, case_id).id == task.id
    assert engine.case(case_id)["status"] == "active"
    # and the task can still be completed once the data is right
    engine.complete_task(task.id, {"unknownVar": 5}, actor="anna")
    assert [j.element_id for j in jobs_of(engine, case_id)] == ["job"]


def test_a_start_that_fails_leaves_no_case_behind(engine: Engine) -> None:
    engine.deploy({"gate.bpmn": process("broken", """
<bpmn:startEvent id="start"/>
<bpmn:exclusiveGateway id="gw"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "gw") + flow("f", "gw", "end", "${unknownVar > 1}"))})
    with pytest.raises(ProcessError) as err:
        engine.start("broken", "BK-X", {"a": 1})
    assert err.value.element_id == "gw"
    assert engine.cases() == []
    assert engine.open_tasks() == []


# -- claim -----------------------------------------------------------------------------------------


def test_claim_unclaim_and_claim_conflict(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)

    engine.claim(task.id, "anna")
    engine.claim(task.id, "anna")  # claiming again as the holder is fine
    row = open_task(engine, case_id)
    assert row.assignee == "anna"
    assert row.claimed_at is not None and row.claimed_at.replace(tzinfo=None) == clock.now.replace(tzinfo=None)
    with pytest.raises(Conflict, match="already assigned to anna"):
        engine.claim(task.id, "ben")

    engine.claim(task.id, None)
    row = open_task(engine, case_id)
    assert (row.assignee, row.claimed_at) == (None, None)
    engine.claim(task.id, "ben")
    assert open_task(engine, case_id).assignee == "ben"

    with pytest.raises(NotFound):
        engine.claim("no-such-task", "ben")
    engine.complete_task(task.id, {}, actor="ben")
    with pytest.raises(Conflict, match="is completed"):
        engine.claim(task.id, "ben")


# -- cancel, suspend, resume -----------------------------------------------------------------------


def parallel_work() -> bytes:
    """A user task with a timer, plus an external job, plus a message wait — all open at once."""
    return process("busy", """
<bpmn:startEvent id="start"/>
<bpmn:parallelGateway id="split"/>
<bpmn:userTask id="task" name="Task"/>
<bpmn:boundaryEvent id="remind" attachedToRef="task" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:serviceTask id="job" camunda:type="external" camunda:topic="busy"/>
<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>
<bpmn:userTask id="reminded" name="Reminded"/>
<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e3"/><bpmn:endEvent id="e4"/>
""" + chain("start", "split") + chain("split", "task", "e1") + chain("split", "job", "e2")
        + chain("split", "wait", "e3") + chain("remind", "reminded", "e4"),
        extra='<bpmn:message id="M" name="go"/>')


def test_cancel_empties_projections_and_marks_case_cancelled(engine: Engine) -> None:
    case_id = deploy_start(engine, parallel_work(), "busy")
    before = snapshot(engine, case_id)
    assert before["tasks"] and before["jobs"] and before["timers"] and before["subscriptions"]

    engine.cancel(case_id, actor="admin")

    after = snapshot(engine, case_id)
    assert after["status"] == CaseStatus.CANCELLED
    assert after["jobs"] == [] and after["timers"] == [] and after["subscriptions"] == []
    assert [t[2] for t in after["tasks"]] == ["cancelled"]
    assert engine.open_tasks(case_id) == []
    case = engine.case(case_id)
    assert (case["status"], case["waiting"]) == ("cancelled", [])
    assert case["endedAt"] is not None
    with pytest.raises(Conflict, match="already ended"):
        engine.cancel(case_id)
    with pytest.raises(Conflict):
        engine.complete_task(before["tasks"][0][0], {})
    with pytest.raises(NotFound):
        engine.correlate("go", case_id=case_id)


def test_suspend_hides_jobs_and_timers_until_resume(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, parallel_work(), "busy")
    engine.suspend(case_id)
    assert engine.case(case_id)["status"] == "suspended"

    clock.advance(hours=2)
    assert engine.fetch_and_lock("w", [TopicRequest("busy")]) == []
    assert engine.fire_due_timers() == 0
    assert len(timers_of(engine, case_id)) == 1
    task = open_task(engine, case_id, "task")
    with pytest.raises(Conflict, match="suspended"):
        engine.complete_task(task.id, {})
    with pytest.raises(Conflict, match="is suspended, not active"):
        engine.suspend(case_id)

    engine.resume(case_id)
    assert engine.case(case_id)["status"] == "active"
    with pytest.raises(Conflict, match="is active, not suspended"):
        engine.resume(case_id)
    assert [j.element_id for j in engine.fetch_and_lock("w", [TopicRequest("busy")])] == ["job"]
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["reminded", "task"]


def test_suspend_and_resume_unknown_case(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.suspend("missing")
    with pytest.raises(NotFound):
        engine.resume("missing")


def test_case_version_counts_each_change_by_one(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two", "BK-1")
    with engine.db.transaction() as s:
        row = s.execute(select(Case).where(Case.business_key == "BK-1")).scalar_one()
    assert (row.id, row.version) == (case_id, 1)
    engine.complete_task(open_task(engine, case_id).id, {})
    assert case_version(engine, case_id) == 2
    engine.suspend(case_id)
    engine.resume(case_id)
    assert case_version(engine, case_id) == 4
    engine.cancel(case_id)
    assert case_version(engine, case_id) == 5


def test_a_fresh_engine_acts_on_existing_cases(db: Database, clock: TestClock) -> None:
    """A new process (CLI, restarted web app) has no parsed definitions yet and must still work."""
    first = Engine(db, clock=clock)
    case_id = deploy_start(first, two_tasks(), "two")
    fresh = Engine(Database(db.url), clock=clock)
    try:
        fresh.complete_task(open_task(fresh, case_id).id, {"from": "cli"}, actor="cli")
        assert open_task_elements(first, case_id) == ["second"]
        assert first.case(case_id)["variables"] == {"from": "cli"}
    finally:
        fresh.db.dispose()


def test_task_data_reads_a_waiting_tasks_variables_and_leaves_the_case_as_it_was(engine: Engine) -> None:
    case_id = deploy_start(engine, user_then_job(), "claim", "ORDER-8", {"customer": "Aino", "amount": 3})
    task_id = open_task(engine, case_id).id
    before = case_version(engine, case_id)
    with engine.db.read() as session:
        data = engine.task_data(session, case_id, [task_id, "00000000-0000-0000-0000-000000000000"])
        assert engine.task_data(session, "no-such-case", [task_id]) == {}
    assert list(data) == [task_id]  # an id not in the saved state is left out
    assert data[task_id]["customer"] == "Aino" and data[task_id]["amount"] == 3
    assert case_version(engine, case_id) == before
