"""Shared helpers for the runtime tests: tiny diagrams and a snapshot of a case's persisted state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from engine.models import Case, HistoryEvent, Incident, Job, MessageSubscription, Task, TaskStatus, Timer
from engine.runtime import Engine
from tests.diagrams import chain, process

DECISION_FORM = """
<bpmn:extensionElements><camunda:formData>
  <camunda:formField id="amount" label="Amount" type="long">
    <camunda:validation><camunda:constraint name="required" /></camunda:validation>
  </camunda:formField>
  <camunda:formField id="decision" label="Decision" type="enum">
    <camunda:value id="approve" name="Approve" /><camunda:value id="reject" name="Reject" />
  </camunda:formField>
</camunda:formData></bpmn:extensionElements>
"""


def user_then_job(key: str = "claim", topic: str = "notify") -> bytes:
    """start → review (form) → notify (external job) → end."""
    return process(key, f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="review" name="Review">{DECISION_FORM}</bpmn:userTask>
<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="{topic}"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "review", "notify", "end"))


def single_job(key: str = "jobs", topic: str = "work") -> bytes:
    """start → work (external job) → after (user task) → end."""
    return process(key, f"""
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="{topic}"/>
<bpmn:userTask id="after" name="After"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "work", "after", "end"))


def two_tasks(key: str = "two") -> bytes:
    """start → first → second → end (plain user tasks)."""
    return process(key, """
<bpmn:startEvent id="start"/>
<bpmn:userTask id="first" name="First"/>
<bpmn:userTask id="second" name="Second"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "first", "second", "end"))


def deploy_start(engine: Engine, xml: bytes, key: str, business_key: str | None = None,
                 variables: dict[str, Any] | None = None) -> str:
    engine.deploy({f"{key}.bpmn": xml})
    return engine.start(key, business_key, variables)


def open_task(engine: Engine, case_id: str, element_id: str | None = None) -> Task:
    tasks = [t for t in engine.open_tasks(case_id) if element_id is None or t.element_id == element_id]
    assert len(tasks) == 1, [t.element_id for t in engine.open_tasks(case_id)]
    return tasks[0]


def snapshot(engine: Engine, case_id: str) -> dict[str, Any]:
    """Everything a rollback must leave untouched: state, version, projections."""
    with engine.db.transaction() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return {
            "status": case.status, "version": case.version, "state": case.state, "variables": case.variables,
            "tasks": sorted((t.id, t.element_id, t.status.value, t.assignee) for t in s.execute(
                select(Task).where(Task.case_id == case_id)).scalars()),
            "jobs": sorted((j.id, j.element_id, j.lock_owner, j.retries) for j in s.execute(
                select(Job).where(Job.case_id == case_id)).scalars()),
            "timers": sorted((t.id, t.element_id) for t in s.execute(
                select(Timer).where(Timer.case_id == case_id)).scalars()),
            "subscriptions": sorted((m.message_name, m.element_id) for m in s.execute(
                select(MessageSubscription).where(MessageSubscription.case_id == case_id)).scalars()),
            "history": s.execute(select(func.count()).select_from(HistoryEvent)
                                 .where(HistoryEvent.case_id == case_id)).scalar_one(),
        }


def case_version(engine: Engine, case_id: str) -> int:
    with engine.db.transaction() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.version


def history(engine: Engine, case_id: str) -> list[HistoryEvent]:
    with engine.db.transaction() as s:
        return list(s.execute(select(HistoryEvent).where(HistoryEvent.case_id == case_id)
                              .order_by(HistoryEvent.id)).scalars())


def history_count(engine: Engine, case_id: str, element_id: str) -> int:
    return sum(1 for h in history(engine, case_id) if h.element_id == element_id)


def jobs_of(engine: Engine, case_id: str) -> list[Job]:
    with engine.db.transaction() as s:
        return list(s.execute(select(Job).where(Job.case_id == case_id)).scalars())


def timers_of(engine: Engine, case_id: str) -> list[Timer]:
    with engine.db.transaction() as s:
        return list(s.execute(select(Timer).where(Timer.case_id == case_id)).scalars())


def incidents_of(engine: Engine, case_id: str) -> list[Incident]:
    with engine.db.transaction() as s:
        return list(s.execute(select(Incident).where(Incident.case_id == case_id)).scalars())


def open_task_elements(engine: Engine, case_id: str) -> list[str]:
    with engine.db.transaction() as s:
        return sorted(s.execute(select(Task.element_id).where(
            Task.case_id == case_id, Task.status == TaskStatus.OPEN)).scalars())


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released together; each result is its value or the exception raised."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(i: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = action()
        except Exception as err:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
