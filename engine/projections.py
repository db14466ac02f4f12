"""Writes a case's projections (task, job, timer, message_subscription, history_event) from its workflow.

Called only from engine/transition.py, inside the transaction that saves the state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine.camunda.script_engine import json_safe
from engine.models import HistoryEvent, Job, MessageSubscription, Task, TaskCandidate, TaskStatus, Timer
from engine.open_work import WaitItem, all_tasks

HISTORY_KEY = "_h"  # internal-data marker: "a" = history row open, "f" = row closed
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def record_history(session: Session, case_id: str, workflow: Any, now: datetime,
                   actor: str | None, actor_task: Any = None) -> None:
    """One history row per element instance: opened when first seen active, closed when finished."""
    new_rows: list[dict[str, Any]] = []
    for task in all_tasks(workflow):
        spec = task.task_spec
        if spec.bpmn_id is None:
            continue
        mark = task.internal_data.get(HISTORY_KEY)
        if mark == "f":
            continue
        state = task._state
        if state & _ACTIVE:
            if mark is None:
                new_rows.append(_history_row(case_id, task, "active", now, None, None))
                task.internal_data[HISTORY_KEY] = "a"
        elif state & (TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR):
            if state == TaskState.CANCELLED and mark is None:
                task.internal_data[HISTORY_KEY] = "f"
                continue
            label = TaskState.get_name(state).lower()
            who = actor if actor_task is not None and task.id == actor_task else None
            if mark == "a":
                session.execute(update(HistoryEvent).where(HistoryEvent.task_id == str(task.id))
                                .values(state=label, ended_at=now, ended_seq=task.last_state_change, actor=who))
            else:
                new_rows.append(_history_row(case_id, task, label, now, now, who))
            task.internal_data[HISTORY_KEY] = "f"
    if new_rows:
        session.execute(insert(HistoryEvent), new_rows)


def _history_row(case_id: str, task: Any, state: str, start: datetime, end: datetime | None,
                 actor: str | None) -> dict[str, Any]:
    spec = task.task_spec
    return {"case_id": case_id, "task_id": str(task.id), "element_id": spec.bpmn_id, "element_name": spec.bpmn_name,
            "element_type": spec.__class__.__name__, "state": state, "started_at": start, "ended_at": end,
            "ended_seq": task.last_state_change if end is not None else None, "actor": actor}


def write_projections(session: Session, case_id: str, workflow: Any, items: list[WaitItem], now: datetime,
                      actor: str | None, first: bool = False) -> None:
    """Bring the case's projection rows in line with its open work."""
    _write_tasks(session, case_id, workflow, [i for i in items if i.kind == "userTask"], now, actor, first)
    _write_jobs(session, case_id, [i for i in items if i.kind == "job"], now, first)
    if not first:
        session.execute(delete(Timer).where(Timer.case_id == case_id))
        session.execute(delete(MessageSubscription).where(MessageSubscription.case_id == case_id))
    timers = [{"id": str(i.task.id), "case_id": case_id, "element_id": i.element_id, "due_at": i.due}
              for i in items if i.kind == "timer"]
    if timers:
        session.execute(insert(Timer), timers)
    messages = [{"id": f"{i.task.id}:{i.element_id}"[:36] if i.task is workflow.task_tree else str(i.task.id),
                 "case_id": case_id, "message_name": i.message, "element_id": i.element_id}
                for i in items if i.kind == "message"]
    if messages:
        seen: set[str] = set()
        unique = [m for m in messages if not (m["id"] in seen or seen.add(m["id"]))]  # type: ignore[func-returns-value]
        session.execute(insert(MessageSubscription), unique)


def _write_tasks(session: Session, case_id: str, workflow: Any, items: list[WaitItem], now: datetime,
                 actor: str | None, first: bool) -> None:
    existing: set[str] = set()
    if not first:
        existing = set(session.execute(
            select(Task.id).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN)).scalars())
    wanted = {str(i.task.id): i for i in items}
    for gone in existing - wanted.keys():
        spiff = _find(workflow, gone)
        done = spiff is not None and spiff._state == TaskState.COMPLETED
        session.execute(update(Task).where(Task.id == gone).values(
            status=TaskStatus.COMPLETED if done else TaskStatus.CANCELLED, completed_at=now,
            completed_by=actor if done else None))
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == gone))
    rows, candidates = [], []
    for task_id, item in wanted.items():
        if task_id in existing:
            continue
        a = item.assignment
        spec = item.task.task_spec
        form = getattr(spec, "form", None)
        rows.append({
            "id": task_id, "case_id": case_id, "element_id": item.element_id, "name": item.name,
            "status": TaskStatus.OPEN, "assignee": a.get("assignee"),
            "candidate_users": a.get("candidateUsers") or [], "candidate_groups": a.get("candidateGroups") or [],
            "due": _parse_dt(a.get("dueDate")), "follow_up": _parse_dt(a.get("followUpDate")),
            "priority": a.get("priority") if a.get("priority") is not None else 50,
            "form_key": (form or {}).get("form_key") or (form or {}).get("form_ref"), "form": form,
            "created_at": now, "claimed_at": now if a.get("assignee") else None,
        })
        candidates += [{"task_id": task_id, "kind": "group", "value": g} for g in set(a.get("candidateGroups") or [])]
        candidates += [{"task_id": task_id, "kind": "user", "value": u} for u in set(a.get("candidateUsers") or [])]
    if rows:
        session.execute(insert(Task), rows)
    if candidates:
        session.execute(insert(TaskCandidate), candidates)


def _write_jobs(session: Session, case_id: str, items: list[WaitItem], now: datetime, first: bool) -> None:
    existing: set[str] = set()
    if not first:
        existing = set(session.execute(select(Job.id).where(Job.case_id == case_id)).scalars())
    wanted = {str(i.task.id): i for i in items}
    gone = existing - wanted.keys()
    if gone:
        session.execute(delete(Job).where(Job.id.in_(gone)))
    rows = [{"id": task_id, "case_id": case_id, "element_id": i.element_id, "topic": i.topic,
             "priority": i.task.internal_data.get("job", {}).get("priority", 0), "retries": None,
             "variables": json_safe(i.task.data),
             "next_attempt_at": None, "created_at": now}
            for task_id, i in wanted.items() if task_id not in existing]
    if rows:
        session.execute(insert(Job), rows)


def _find(workflow: Any, task_id: str) -> Any:
    from uuid import UUID

    try:
        return workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - a pruned or vanished task is simply not found
        return None
