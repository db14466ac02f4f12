"""Writes a case's projections (task, job, timer, message_subscription, history_event) from its workflow.

Called only from engine/transition.py, inside the transaction that saves the state. This runs on
every case action, so the statements are built once here and executed as Core statements on the
session's connection (ORM statement building cost more than the rest of a transition).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from engine.camunda import scope
from engine.camunda.script_engine import json_safe
from engine.models import (
    OBSOLETE,
    Case,
    HistoryEvent,
    Incident,
    Job,
    MessageSubscription,
    Task,
    TaskCandidate,
    TaskStatus,
    Timer,
    table_of,
)
from engine.open_work import WaitItem, all_tasks

HISTORY_KEY = "_h"  # internal-data marker: "a" = history row open, "f" = row closed
_PROJECTED = "polku.projected_kinds"  # session.info: case id -> kinds of wait its projection rows hold
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_CLOSED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR




_HISTORY = table_of(HistoryEvent)
_TASK = table_of(Task)
_CANDIDATE = table_of(TaskCandidate)
_JOB = table_of(Job)
_TIMER = table_of(Timer)
_SUBSCRIPTION = table_of(MessageSubscription)
_INCIDENT = table_of(Incident)

_INSERT_HISTORY = insert(_HISTORY)
_CLOSE_HISTORY = (update(_HISTORY).where(_HISTORY.c.task_id == bindparam("b_task"))
                  .values(state=bindparam("b_state"), ended_at=bindparam("b_end"), ended_seq=bindparam("b_seq"),
                          actor=bindparam("b_actor")))
_HISTORY_STATES = select(_HISTORY.c.task_id, _HISTORY.c.state).where(
    _HISTORY.c.task_id.in_(bindparam("ids", expanding=True)))
_OPEN_TASK_IDS = select(_TASK.c.id).where(_TASK.c.case_id == bindparam("case_id"),
                                          _TASK.c.status == TaskStatus.OPEN)
_CLOSE_TASK = (update(_TASK).where(_TASK.c.id == bindparam("b_id"))
               .values(status=bindparam("b_status"), completed_at=bindparam("b_at"), completed_by=bindparam("b_by")))
_DELETE_CANDIDATES = delete(_CANDIDATE).where(_CANDIDATE.c.task_id.in_(bindparam("ids", expanding=True)))
_INSERT_TASK = insert(_TASK)
_INSERT_CANDIDATE = insert(_CANDIDATE)
_JOB_IDS = select(_JOB.c.id).where(_JOB.c.case_id == bindparam("case_id"))
_DELETE_JOBS = delete(_JOB).where(_JOB.c.id.in_(bindparam("ids", expanding=True)))
_DELETE_CASE_JOBS = delete(_JOB).where(_JOB.c.case_id == bindparam("case_id"))
_INSERT_JOB = insert(_JOB)
_REFRESH_JOB_VARIABLES = update(_JOB).where(_JOB.c.id == bindparam("b_id")).values(variables=bindparam("b_variables"))
_DELETE_TIMERS = delete(_TIMER).where(_TIMER.c.case_id == bindparam("case_id"))
_INSERT_TIMER = insert(_TIMER)
_DELETE_SUBSCRIPTIONS = delete(_SUBSCRIPTION).where(_SUBSCRIPTION.c.case_id == bindparam("case_id"))
_INSERT_SUBSCRIPTION = insert(_SUBSCRIPTION)
# An open incident whose job or timer row is gone: the case moved on from it, was cancelled or ended.
_CLOSE_LEFT_INCIDENTS = (
    update(_INCIDENT)
    .where(_INCIDENT.c.case_id == bindparam("b_case"), _INCIDENT.c.resolved_at.is_(None),
           _INCIDENT.c.job_id.not_in(select(_JOB.c.id).where(_JOB.c.case_id == bindparam("b_case"))),
           _INCIDENT.c.job_id.not_in(select(_TIMER.c.id).where(_TIMER.c.case_id == bindparam("b_case"))))
    .values(resolved_at=bindparam("b_now"), resolved_by=bindparam("b_actor"), resolution=OBSOLETE,
            note="the case no longer waits there"))


def _connection(session: Session) -> Any:
    """The session's connection, after flushing any ORM changes so Core statements see them."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def record_history(session: Session, case_id: str, workflow: Any, now: datetime,
                   actor: str | None, actor_task: Any = None) -> None:
    """One history row per element instance: opened when first seen active, closed when finished."""
    _remember_projected(session, case_id)
    new_rows: list[dict[str, Any]] = []
    closes: list[dict[str, Any]] = []
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
        elif state & _CLOSED:
            if state == TaskState.CANCELLED and mark is None:
                task.internal_data[HISTORY_KEY] = "f"
                continue
            label = TaskState.get_name(state).lower()
            who = actor if actor_task is not None and task.id == actor_task else None
            if mark == "a":
                closes.append({"b_task": str(task.id), "b_state": label, "b_end": now,
                               "b_seq": task.last_state_change, "b_actor": who})
            else:
                new_rows.append(_history_row(case_id, task, label, now, now, who))
            task.internal_data[HISTORY_KEY] = "f"
    if closes or new_rows:
        conn = _connection(session)
        if closes:
            conn.execute(_CLOSE_HISTORY, closes)
        if new_rows:
            conn.execute(_INSERT_HISTORY, new_rows)


def _history_row(case_id: str, task: Any, state: str, start: datetime, end: datetime | None,
                 actor: str | None) -> dict[str, Any]:
    spec = task.task_spec
    return {"case_id": case_id, "task_id": str(task.id), "element_id": spec.bpmn_id, "element_name": spec.bpmn_name,
            "element_type": spec.__class__.__name__, "state": state, "started_at": start, "ended_at": end,
            "ended_seq": task.last_state_change if end is not None else None, "actor": actor}


def _remember_projected(session: Session, case_id: str) -> None:
    """Note which kinds of wait the case's projection rows hold before this save.

    They were written with the case's `waiting` list in the save that last changed it, and the
    case row was loaded (locked) in this transaction, so its `waiting` tells without a query; the
    update that saves the new `waiting` comes between this and write_projections.
    """
    case = session.identity_map.get(identity_key(Case, case_id))
    kinds = None if case is None else {w.get("kind") for w in (case.waiting or [])}
    session.info.setdefault(_PROJECTED, {})[case_id] = kinds


def write_projections(session: Session, case_id: str, workflow: Any, items: list[WaitItem], now: datetime,
                      actor: str | None, first: bool = False) -> None:
    """Bring the case's projection rows in line with its open work."""
    conn = _connection(session)
    before = session.info.get(_PROJECTED, {}).pop(case_id, None)  # None: not known, look at every table

    def had(kind: str) -> bool:
        return not first and (before is None or kind in before)

    _write_tasks(conn, case_id, workflow, [i for i in items if i.kind == "userTask"], now, actor, not had("userTask"))
    _write_jobs(conn, case_id, [i for i in items if i.kind == "job"], now, not had("job"), scope.received(workflow))
    if had("timer"):
        conn.execute(_DELETE_TIMERS, {"case_id": case_id})
    if had("message"):
        conn.execute(_DELETE_SUBSCRIPTIONS, {"case_id": case_id})
    timers = [{"id": i.row_id, "case_id": case_id, "element_id": i.element_id, "due_at": i.due}
              for i in items if i.kind == "timer"]
    if timers:
        conn.execute(_INSERT_TIMER, timers)
    messages: list[dict[str, Any]] = [
        {"id": i.row_id, "case_id": case_id, "message_name": i.message, "element_id": i.element_id}
        for i in items if i.kind == "message"]
    if messages:
        unique: dict[str, dict[str, Any]] = {}
        for row in messages:
            unique.setdefault(row["id"], row)  # one row per id: the first wins
        conn.execute(_INSERT_SUBSCRIPTION, list(unique.values()))
    if had("job") or had("timer"):  # only a job or a timer can have an incident; they may have gone now
        conn.execute(_CLOSE_LEFT_INCIDENTS, {"b_case": case_id, "b_now": now, "b_actor": actor})


def _compare(conn: Any, ids_query: Any, case_id: str, items: list[WaitItem], none_yet: bool
             ) -> tuple[set[str], dict[str, WaitItem], set[str]]:
    """The projected row ids, the wanted items by task id, and the ids no longer wanted."""
    existing: set[str] = set() if none_yet else set(conn.execute(ids_query, {"case_id": case_id}).scalars())
    wanted = {str(i.task.id): i for i in items}
    return existing, wanted, existing - wanted.keys()


def _write_tasks(conn: Any, case_id: str, workflow: Any, items: list[WaitItem], now: datetime,
                 actor: str | None, none_yet: bool) -> None:
    existing, wanted, gone = _compare(conn, _OPEN_TASK_IDS, case_id, items, none_yet)
    if gone:
        _close_tasks(conn, workflow, sorted(gone), now, actor)
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
        conn.execute(_INSERT_TASK, rows)
    if candidates:
        conn.execute(_INSERT_CANDIDATE, candidates)


def _close_tasks(conn: Any, workflow: Any, gone: list[str], now: datetime, actor: str | None) -> None:
    """Close the rows of human tasks that are no longer open: completed, or else cancelled.

    A task completed by this action may already have been pruned from the workflow; the history
    row written for it just before pruning says how it ended.
    """
    states: dict[str, int | None] = {}
    had_candidates = False
    for task_id in gone:
        spiff = _find(workflow, task_id)
        states[task_id] = spiff._state if spiff is not None else None
        if spiff is None or _has_candidates(spiff):
            had_candidates = True
    missing = [t for t, s in states.items() if s is None]
    recorded: dict[str, str] = {}
    if missing:
        recorded = dict(conn.execute(_HISTORY_STATES, {"ids": missing}).all())
    closes = []
    for task_id, state in states.items():
        done = state == TaskState.COMPLETED if state is not None else recorded.get(task_id) == "completed"
        closes.append({"b_id": task_id, "b_status": TaskStatus.COMPLETED if done else TaskStatus.CANCELLED,
                       "b_at": now, "b_by": actor if done else None})
    conn.execute(_CLOSE_TASK, closes)
    if had_candidates:
        conn.execute(_DELETE_CANDIDATES, {"ids": gone})


def _has_candidates(task: Any) -> bool:
    assignment = task.internal_data.get("assignment") or {}
    return bool(assignment.get("candidateGroups") or assignment.get("candidateUsers"))


def _write_jobs(conn: Any, case_id: str, items: list[WaitItem], now: datetime, none_yet: bool,
                changed: set[Any]) -> None:
    if not items:
        # no job wanted (the usual end of a job's completion): every row of the case goes, one statement
        if not none_yet:
            conn.execute(_DELETE_CASE_JOBS, {"case_id": case_id})
        return
    existing, wanted, gone = _compare(conn, _JOB_IDS, case_id, items, none_yet)
    if gone:
        conn.execute(_DELETE_JOBS, {"ids": sorted(gone)})
    rows = [{"id": task_id, "case_id": case_id, "element_id": i.element_id, "topic": i.topic,
             "priority": i.task.internal_data.get("job", {}).get("priority", 0), "retries": None,
             "variables": json_safe(i.task.data),
             "next_attempt_at": None, "created_at": now}
            for task_id, i in wanted.items() if task_id not in existing]
    if rows:
        conn.execute(_INSERT_JOB, rows)
    # a waiting job whose variables another branch changed (engine/camunda/scope.py) hands out the new ones
    refreshed = [{"b_id": task_id, "b_variables": json_safe(i.task.data)} for task_id, i in wanted.items()
                 if task_id in existing and i.task.id in changed]
    if refreshed:
        conn.execute(_REFRESH_JOB_VARIABLES, refreshed)


def _find(workflow: Any, task_id: str) -> Any:
    """The task with this id in the workflow or its subprocesses, or None (pruned or never there)."""
    try:
        key = UUID(task_id)
    except ValueError:
        return None
    task = workflow.tasks.get(key)
    if task is not None:
        return task
    for sub in workflow.subprocesses.values():
        task = sub.tasks.get(key)
        if task is not None:
            return task
    return None
