"""Keeps a case's saved state proportional to its open work.

SpiffWorkflow keeps every task ever run in one tree, and each pass of a loop hangs below the last
one; its task iterator stops at depth 1000, so a long follow-up loop eventually reports itself
completed without reaching its end event. SpiffWorkflow has no public pruning API, so this module
touches its internals (`Task._parent`, `Task._children`, `Workflow.tasks`); SpiffWorkflow is
pinned exactly in pyproject.toml and tests/engine/test_pruning.py covers loops, parallel
branches, boundary events, subprocesses and call activities.

The rule: a finished task far enough above all open work (more than KEEP finished ancestors away)
is spliced out of the chain and its finished side branches are dropped, except that branches
leading into a join that is still waiting are kept, because SpiffWorkflow's joins look at them.
Completed subprocesses whose task has been removed go with it. The history table already holds
every task's trail (written before pruning).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

KEEP = 6  # finished ancestors kept above each open task
THRESHOLD = 40  # don't bother below this many tasks in a workflow

_OPEN = TaskState.DEFINITE_MASK  # FUTURE | WAITING | READY | STARTED


def prune(workflow: Any) -> int:
    """Prune the top workflow and its subprocesses; return the number of tasks removed."""
    removed = 0
    for wf in [workflow, *workflow.subprocesses.values()]:
        removed += _prune_one(workflow, wf)
    return removed


def _prune_one(top: Any, wf: Any) -> int:
    tasks = wf.tasks
    if len(tasks) < THRESHOLD:
        return 0
    open_tasks = [t for t in tasks.values() if t._state & _OPEN]
    if not open_tasks:
        return 0
    root = wf.task_tree
    protected: set[Any] = {root.id}
    start_child = root._children[0] if root._children else None
    if start_child is not None:
        protected.add(start_child)
    ancestors_of_open: set[Any] = set()
    for task in open_tasks:
        parent_id = task._parent
        while parent_id is not None and parent_id not in ancestors_of_open:
            ancestors_of_open.add(parent_id)
            parent_id = tasks[parent_id]._parent
        walk = task._parent
        for _ in range(KEEP):
            if walk is None:
                break
            protected.add(walk)
            walk = tasks[walk]._parent
    waiting_joins = {t.task_spec for t in open_tasks if isinstance(t.task_spec, UnstructuredJoin)}

    removed = 0
    for task_id in list(ancestors_of_open):
        if task_id in protected or task_id not in tasks:
            continue
        task = tasks[task_id]
        if not task._state & TaskState.FINISHED_MASK or task._parent is None:
            continue
        live = [c for c in task._children if c in ancestors_of_open or (c in tasks and tasks[c]._state & _OPEN)]
        if len(live) != 1:
            continue
        dead = [c for c in task._children if c != live[0]]
        if any(_holds_join(tasks, c, waiting_joins) for c in dead):
            continue
        for child_id in dead:
            removed += _drop_subtree(top, wf, child_id)
        parent = tasks[task._parent]
        child = tasks[live[0]]
        parent._children[parent._children.index(task_id)] = child.id
        child._parent = parent.id
        _forget(top, wf, task)
        removed += 1
    if wf.last_task is not None and wf.last_task.id not in tasks:
        wf.last_task = None
    return removed


def _holds_join(tasks: dict[Any, Any], task_id: Any, joins: set[Any]) -> bool:
    if not joins:
        return False
    stack = [task_id]
    while stack:
        current = tasks.get(stack.pop())
        if current is None:
            continue
        if current.task_spec in joins:
            return True
        stack.extend(current._children)
    return False


def _drop_subtree(top: Any, wf: Any, task_id: Any) -> int:
    count = 0
    stack = [task_id]
    while stack:
        task = wf.tasks.get(stack.pop())
        if task is None:
            continue
        stack.extend(task._children)
        _forget(top, wf, task)
        count += 1
    return count


def _forget(top: Any, wf: Any, task: Any) -> None:
    wf.tasks.pop(task.id, None)
    top.event_manager.tasks.pop(task.id, None)
    sub = top.subprocesses.get(task.id)
    if sub is not None and sub.completed:
        _drop_subprocess(top, task.id)


def _drop_subprocess(top: Any, task_id: Any) -> None:
    sub = top.subprocesses.pop(task_id)
    for inner_id, inner in list(top.subprocesses.items()):
        if inner.parent_workflow is sub:
            _drop_subprocess(top, inner_id)
