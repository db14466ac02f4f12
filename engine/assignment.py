"""Who works on a human task: claim, unclaim, assign, delegate, reassign, and the task's history.

Every change is one case transaction (the case row locked, as for any case action). It changes the
case's own record of the assignee (the Spiff task's `internal_data["assignment"]`, from which the
task row was written) and the task row together, and writes a task_event row (who, when, from,
to, why), so the inbox, the saved case and the history cannot disagree.

Delegation follows Camunda, kept simple: the task's owner (the assignee who delegated, else the
one delegating) is kept in the record as "owner"; the delegate becomes the assignee and may
complete the task. There is no separate "resolve" step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine.clock import aware
from engine.errors import Conflict, NotFound
from engine.models import CaseStatus, Task, TaskEvent, TaskStatus, table_of
from engine.open_work import all_tasks

if TYPE_CHECKING:
    from engine.runtime import Engine
    from engine.transition import CaseContext

_TASK = table_of(Task)
_TASK_ROW = select(_TASK.c.case_id, _TASK.c.status).where(_TASK.c.id == bindparam("task_id"))
_OPEN_ASSIGNEES = select(_TASK.c.id, _TASK.c.assignee).where(_TASK.c.case_id == bindparam("case_id"),
                                                              _TASK.c.status == TaskStatus.OPEN)
_SET_ASSIGNEE = (update(_TASK).where(_TASK.c.id == bindparam("b_id"))
                 .values(assignee=bindparam("b_assignee"), claimed_at=bindparam("b_claimed")))


@dataclass(frozen=True)
class TaskHistoryEntry:
    """One line of a task's history; `kind` is created, claim, unclaim, assign, delegate, reassign,
    dates (from/to as `dates_value`), completed or cancelled."""

    kind: str
    at: datetime
    actor: str | None = None
    from_value: str | None = None
    to_value: str | None = None
    reason: str | None = None


class _Unchanged(Exception):
    """The change is already so: leave the case as it is (the transaction rolls back, nothing is written)."""


def _record(task: Any) -> dict[str, Any]:
    assignment: dict[str, Any] = task.internal_data.setdefault("assignment", {})
    return assignment


def _open_human_tasks(ctx: CaseContext) -> list[Any]:
    return [t for t in all_tasks(ctx.workflow) if t._state == TaskState.READY and t.task_spec.manual]


def _agree_with_rows(ctx: CaseContext, tasks: list[Any]) -> None:
    """Where the record differs from the task row, the row wins: it is what people saw.

    Claims made before assignment changes went through the case transaction changed only the row.
    """
    rows = dict(ctx.session.execute(_OPEN_ASSIGNEES, {"case_id": ctx.case.id}).all())
    for task in tasks:
        task_id = str(task.id)
        if task_id in rows and rows[task_id] != _record(task).get("assignee"):
            _record(task)["assignee"] = rows[task_id]


def _task_case(session: Session, task_id: str) -> str:
    row = session.execute(_TASK_ROW, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    if row.status != TaskStatus.OPEN:
        raise Conflict(f"task {task_id} is {row.status.value}")
    return str(row.case_id)


def _active(ctx: CaseContext) -> None:
    if ctx.case.status != CaseStatus.ACTIVE:
        raise Conflict(f"case {ctx.case.id} is {ctx.case.status.value}")


@contextmanager
def _task_transaction(engine: Engine, task_id: str, actor: str | None) -> Iterator[tuple[CaseContext, Any]]:
    """The case transaction of an open human task, with the task; an _Unchanged raised inside writes nothing."""
    try:
        with engine.tx.open_found(lambda session: _task_case(session, task_id), actor) as ctx:
            _active(ctx)
            task = next((t for t in _open_human_tasks(ctx) if str(t.id) == task_id), None)
            if task is None:
                raise Conflict(f"task {task_id} is no longer open")
            _agree_with_rows(ctx, [task])
            yield ctx, task
    except _Unchanged:
        pass


def _change(ctx: CaseContext, task: Any, kind: str, to_user: str | None, reason: str | None = None) -> None:
    """Set the assignee in the record and the row, and write the event."""
    record = _record(task)
    from_user = record.get("assignee")
    record["assignee"] = to_user
    ctx.session.execute(_SET_ASSIGNEE, {"b_id": str(task.id), "b_assignee": to_user,
                                        "b_claimed": ctx.now if to_user is not None else None})
    ctx.session.add(TaskEvent(task_id=str(task.id), case_id=ctx.case.id, kind=kind, actor=ctx.actor,
                              from_value=from_user, to_value=to_user, reason=reason, at=ctx.now))


def claim(engine: Engine, task_id: str, user: str, actor: str | None = None) -> None:
    """`user` takes the task; Conflict if someone else holds it. Claiming one's own task changes nothing."""
    with _task_transaction(engine, task_id, actor or user) as (ctx, task):
        holder = _record(task).get("assignee")
        if holder == user:
            raise _Unchanged
        if holder is not None:
            raise Conflict(f"task {task_id} is already assigned to {holder}")
        _change(ctx, task, "claim", user)


def unclaim(engine: Engine, task_id: str, actor: str | None = None) -> None:
    """Give the task back to its candidates."""
    with _task_transaction(engine, task_id, actor) as (ctx, task):
        if _record(task).get("assignee") is None:
            raise _Unchanged
        _change(ctx, task, "unclaim", None)


def set_assignee(engine: Engine, task_id: str, user: str | None, actor: str | None,
                 reason: str | None = None) -> None:
    """Assign the task to `user` (None: to nobody) whoever holds it now, e.g. a team lead's decision."""
    with _task_transaction(engine, task_id, actor) as (ctx, task):
        if _record(task).get("assignee") == user:
            raise _Unchanged
        _change(ctx, task, "assign", user, reason)


def delegate(engine: Engine, task_id: str, user: str, actor: str | None) -> None:
    """Hand the task to `user` for now; its owner (who delegated) stays recorded in the task's assignment."""
    with _task_transaction(engine, task_id, actor) as (ctx, task):
        record = _record(task)
        if record.get("assignee") == user:
            raise _Unchanged
        record.setdefault("owner", record.get("assignee") or actor)
        _change(ctx, task, "delegate", user)


def reassign(engine: Engine, case_id: str, from_user: str, to_user: str, actor: str | None = None,
             reason: str | None = None) -> list[str]:
    """Hand all of `from_user`'s open tasks of the case to `to_user` (a case manager change); returns their ids."""
    moved: list[str] = []
    if from_user == to_user:
        return moved
    try:
        with engine.tx.open(case_id, actor) as ctx:
            _active(ctx)
            tasks = _open_human_tasks(ctx)
            _agree_with_rows(ctx, tasks)
            for task in tasks:
                if _record(task).get("assignee") == from_user:
                    _change(ctx, task, "reassign", to_user, reason)
                    moved.append(str(task.id))
            if not moved:
                raise _Unchanged
    except _Unchanged:
        pass
    return moved


_SET_DATES = (update(_TASK).where(_TASK.c.id == bindparam("b_id"))
              .values(due=bindparam("b_due"), follow_up=bindparam("b_follow_up")))
_TASK_DATES = select(_TASK.c.due, _TASK.c.follow_up).where(_TASK.c.id == bindparam("task_id"))


def dates_value(due: datetime | None, follow_up: datetime | None) -> str:
    """The dates as one task_event value: `due=<ISO or empty>;followUp=<ISO or empty>` (readable and parseable)."""
    return f"due={due.isoformat() if due else ''};followUp={follow_up.isoformat() if follow_up else ''}"


def set_dates(engine: Engine, task_id: str, due: datetime | None, follow_up: datetime | None,
              actor: str | None) -> None:
    """Set the task's due and follow-up dates (None clears one), as Camunda Tasklist does; one 'dates' event.

    The case's record (`dueDate`, `followUpDate`) and the row change together, as for the assignee.
    """
    due, follow_up = aware(due), aware(follow_up)
    with _task_transaction(engine, task_id, actor) as (ctx, task):
        row = ctx.session.execute(_TASK_DATES, {"task_id": task_id}).one()
        before = (aware(row.due), aware(row.follow_up))
        if before == (due, follow_up):
            raise _Unchanged
        record = _record(task)
        record["dueDate"] = due.isoformat() if due else None
        record["followUpDate"] = follow_up.isoformat() if follow_up else None
        ctx.session.execute(_SET_DATES, {"b_id": task_id, "b_due": due, "b_follow_up": follow_up})
        ctx.session.add(TaskEvent(task_id=task_id, case_id=ctx.case.id, kind="dates", actor=ctx.actor,
                                  from_value=dates_value(*before), to_value=dates_value(due, follow_up),
                                  at=ctx.now))


def task_history(engine: Engine, task_id: str) -> list[TaskHistoryEntry]:
    """The task's life, oldest first: created, each assignment change, then completed or cancelled."""
    with engine.db.read() as session:
        row = session.get(Task, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        events = list(session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)
                                      .order_by(TaskEvent.at, TaskEvent.id)).scalars())
    moves = [e for e in events if e.kind != "dates"]
    first = moves[0].from_value if moves else row.assignee  # the assignee the task was created with
    created = aware(row.created_at)
    history = [TaskHistoryEntry("created", created, to_value=first)]
    history += [TaskHistoryEntry(e.kind, aware(e.at), e.actor, e.from_value, e.to_value, e.reason)
                for e in events]
    ended = aware(row.completed_at)
    if row.status != TaskStatus.OPEN and ended is not None:
        history.append(TaskHistoryEntry(row.status.value, ended, row.completed_by, row.assignee))
    return history
