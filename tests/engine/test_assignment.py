"""Who works on a human task: claim, unclaim, assign, delegate, reassign, each with its history.

Each change goes through the case transaction, so the inbox (task rows), the saved case (what the
case waits for, re-read from its state) and the task's history always tell the same story.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.errors import Conflict, NotFound
from engine.models import Task
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, flow, process
from tests.engine.runtime_support import case_version, deploy_start, open_task, race, two_tasks


def three_parallel() -> bytes:
    """Three user tasks at once: two for anna, one for ben (camunda:assignee)."""
    return process("team", """
<bpmn:startEvent id="start"/>
<bpmn:parallelGateway id="split"/>
<bpmn:userTask id="call" name="Call the client" camunda:assignee="anna"/>
<bpmn:userTask id="write" name="Write the plan" camunda:assignee="anna"/>
<bpmn:userTask id="check" name="Check consent" camunda:assignee="ben"/>
<bpmn:parallelGateway id="join"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "split") + "".join(flow(f"a_{t}", "split", t) + flow(f"b_{t}", t, "join")
                                        for t in ("call", "write", "check")) + chain("join", "end"))


def assignees(engine: Engine, case_id: str) -> dict[str, str | None]:
    """Element id → assignee as the inbox reads it (task rows)."""
    return {t.element_id: t.assignee for t in engine.open_tasks(case_id)}


def waiting_assignees(engine: Engine, case_id: str) -> dict[str, str | None]:
    """Element id → assignee as the saved case says (written from its state)."""
    return {w["id"]: w["assignee"] for w in engine.case(case_id)["waiting"] if w["kind"] == "userTask"}


def story(engine: Engine, task_id: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(e.kind, e.actor, e.from_value, e.to_value) for e in engine.task_history(task_id)]


def test_claim_changes_the_inbox_the_saved_case_and_the_history(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)

    clock.advance(minutes=5)
    engine.claim(task.id, "anna")

    assert assignees(engine, case_id) == {"first": "anna"}
    assert waiting_assignees(engine, case_id) == {"first": "anna"}
    assert story(engine, task.id) == [("created", None, None, None), ("claim", "anna", None, "anna")]
    created, claimed = engine.task_history(task.id)
    assert claimed.at == clock.now and created.at < claimed.at
    # someone else's claim reads the saved case: anna holds it
    with pytest.raises(Conflict, match="already assigned to anna"):
        engine.claim(task.id, "ben")


def test_claiming_ones_own_task_or_unclaiming_a_free_one_writes_nothing(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    engine.unclaim(task.id, actor="anna")
    engine.claim(task.id, "anna")
    version = case_version(engine, case_id)

    engine.claim(task.id, "anna")

    assert case_version(engine, case_id) == version
    assert [e.kind for e in engine.task_history(task.id)] == ["created", "claim"]


def test_two_users_claiming_the_same_task_at_once_one_wins(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)

    results = race(lambda: engine.claim(task.id, "anna"), lambda: engine.claim(task.id, "ben"))

    assert sum(r is None for r in results) == 1
    assert [type(r) for r in results if r is not None] == [Conflict]
    winner = "anna" if results[0] is None else "ben"
    assert assignees(engine, case_id) == {"first": winner}
    assert waiting_assignees(engine, case_id) == {"first": winner}
    assert story(engine, task.id) == [("created", None, None, None), ("claim", winner, None, winner)]


def test_a_team_lead_assigns_over_a_claim_and_the_reason_is_kept(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    engine.claim(task.id, "anna")

    engine.set_assignee(task.id, "ben", actor="tiina", reason="Anna is on leave")
    engine.unclaim(task.id, actor="ben")
    engine.set_assignee(task.id, "carl", actor="tiina")

    assert assignees(engine, case_id) == {"first": "carl"}
    assert story(engine, task.id) == [("created", None, None, None), ("claim", "anna", None, "anna"),
                                      ("assign", "tiina", "anna", "ben"), ("unclaim", "ben", "ben", None),
                                      ("assign", "tiina", None, "carl")]
    assert engine.task_history(task.id)[2].reason == "Anna is on leave"


def test_delegation_hands_the_task_over_and_the_delegate_completes_it(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    engine.claim(task.id, "anna")

    engine.delegate(task.id, "ben", actor="anna")

    assert assignees(engine, case_id) == {"first": "ben"}
    assert waiting_assignees(engine, case_id) == {"first": "ben"}
    engine.complete_task(task.id, {}, actor="ben")
    assert story(engine, task.id) == [("created", None, None, None), ("claim", "anna", None, "anna"),
                                      ("delegate", "anna", "anna", "ben"), ("completed", "ben", "ben", None)]


def test_reassign_moves_one_persons_open_tasks_of_the_case_and_complete_shows_the_new_assignee(
        engine: Engine, db: Database, clock: TestClock) -> None:
    case_id = deploy_start(engine, three_parallel(), "team")
    other_case = engine.start("team")
    assert assignees(engine, case_id) == {"call": "anna", "write": "anna", "check": "ben"}
    tasks = {t.element_id: t.id for t in engine.open_tasks(case_id)}

    moved = engine.reassign(case_id, "anna", "carl", actor="tiina", reason="case manager change: workload")

    assert sorted(moved) == sorted([tasks["call"], tasks["write"]])
    assert assignees(engine, case_id) == {"call": "carl", "write": "carl", "check": "ben"}
    assert assignees(engine, other_case) == {"call": "anna", "write": "anna", "check": "ben"}  # another case
    # a fresh engine (another process: nothing cached) reads the same from the saved case
    reloaded = Engine(db, clock)
    assert waiting_assignees(reloaded, case_id) == {"call": "carl", "write": "carl", "check": "ben"}
    with pytest.raises(Conflict, match="already assigned to carl"):
        reloaded.claim(tasks["call"], "anna")

    clock.advance(hours=1)
    engine.complete_task(tasks["call"], {}, actor="carl")

    [row] = [t for t in _rows(engine, case_id) if t.id == tasks["call"]]
    assert (row.status.value, row.assignee, row.completed_by) == ("completed", "carl", "carl")
    assert story(engine, tasks["call"]) == [("created", None, None, "anna"), ("reassign", "tiina", "anna", "carl"),
                                            ("completed", "carl", "carl", None)]
    assert engine.task_history(tasks["call"])[1].reason == "case manager change: workload"
    assert waiting_assignees(engine, case_id) == {"write": "carl", "check": "ben"}
    assert engine.reassign(case_id, "anna", "carl") == []  # nothing left to move: a second run changes nothing


def test_reassign_with_nothing_to_move_writes_nothing(engine: Engine) -> None:
    case_id = deploy_start(engine, three_parallel(), "team")
    version = case_version(engine, case_id)
    assert engine.reassign(case_id, "nobody", "carl") == []
    assert engine.reassign(case_id, "anna", "anna") == []
    assert case_version(engine, case_id) == version
    with pytest.raises(NotFound):
        engine.reassign("no-such-case", "anna", "carl")


def test_a_task_no_longer_open_cannot_change_hands(engine: Engine) -> None:
    case_id = deploy_start(engine, two_tasks(), "two")
    task = open_task(engine, case_id)
    engine.complete_task(task.id, {}, actor="anna")

    for change in (lambda: engine.claim(task.id, "ben"), lambda: engine.unclaim(task.id, "ben"),
                   lambda: engine.set_assignee(task.id, "ben", "tiina"),
                   lambda: engine.delegate(task.id, "ben", "anna"), lambda: engine.claim(task.id, None)):
        with pytest.raises(Conflict, match="is completed"):
            change()
    assert story(engine, task.id) == [("created", None, None, None), ("completed", "anna", None, None)]
    with pytest.raises(NotFound):
        engine.claim("no-such-task", "ben")
    with pytest.raises(NotFound):
        engine.task_history("no-such-task")


def test_a_suspended_cases_tasks_cannot_change_hands_until_resumed(engine: Engine) -> None:
    case_id = deploy_start(engine, three_parallel(), "team")
    task = open_task(engine, case_id, "check")
    engine.suspend(case_id)
    with pytest.raises(Conflict, match="is suspended"):
        engine.claim(task.id, "carl")
    with pytest.raises(Conflict, match="is suspended"):
        engine.reassign(case_id, "anna", "carl")
    engine.resume(case_id)
    engine.set_assignee(task.id, "carl", actor="tiina")
    assert assignees(engine, case_id)["check"] == "carl"


def _rows(engine: Engine, case_id: str) -> list[Task]:
    with engine.db.read() as session:
        return list(session.execute(select(Task).where(Task.case_id == case_id)).scalars())
