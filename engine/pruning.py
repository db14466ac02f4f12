"""Keeps a case's saved state proportional to its open work.

SpiffWorkflow keeps every task ever run in one tree, and each pass of a loop hangs below the last
one; its task iterator stops at depth 1000, so a long follow-up loop eventually reports itself
completed without reaching its end event. SpiffWorkflow has no public pruning API, so this module
touches its internals (`Task._parent`, `Task._children`, `Workflow.tasks`, the event manager and
`subprocesses`); SpiffWorkflow is pinned exactly in pyproject.toml and
tests/engine/test_pruning.py covers loops, parallel branches, boundary events, subprocesses, call
activities and event subprocesses.

Open work is every task that is FUTURE, WAITING, READY or STARTED (or whose subprocess is still
running). After every action, for every workflow of the case (the top one and each subprocess):

1. Dead side branches are dropped: a finished ancestor of open work loses its children that hold
   no open work. One kind is kept, because SpiffWorkflow's parallel and inclusive joins read it:
   a branch holding a finished instance of such a join while another instance of the same join,
   in the same pass of a loop, still waits. Branches from an earlier pass are dropped; left in
   the tree they would make the join fire early (stock SpiffWorkflow counts them as arrived).
   A dropped branch that ended at an end event while another end-event branch still waits hands
   its data to the waiting one, so the case's final data is what it would have been unpruned.
2. The chain above open work is spliced: a finished ancestor more than KEEP finished steps
   above every open task, with a single child left, is removed and its child re-hung on its
   parent. The root and its first child (the start event) always stay.
3. Completed subprocesses (and call activities) go with their removed task.

The history table already holds every task's trail (record_history runs before pruning).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

KEEP = 2  # finished ancestors kept above each open task

_OPEN = TaskState.DEFINITE_MASK  # FUTURE | WAITING | READY | STARTED
_FINISHED = TaskState.FINISHED_MASK
_COMPLETED = TaskState.COMPLETED
_PASS_JOINS = (ParallelGateway, InclusiveGateway)  # joins that read the parents of their sibling instances


def prune(workflow: Any) -> int:
    """Prune the top workflow and its subprocesses; return the number of tasks removed."""
    removed = _prune_one(workflow, workflow)
    for task_id, sub in list(workflow.subprocesses.items()):
        if workflow.subprocesses.get(task_id) is sub:  # not dropped with its parent meanwhile
            removed += _prune_one(workflow, sub)
    return removed


def _prune_one(top: Any, wf: Any) -> int:
    tasks: dict[UUID, Any] = wf.tasks
    running = top.subprocesses
    open_tasks = [t for t in tasks.values()
                  if t._state & _OPEN or (t.id in running and not running[t.id].completed)]
    if not open_tasks:
        return 0
    root = wf.task_tree
    open_ids = {t.id for t in open_tasks}

    # The ancestors of open work; the KEEP nearest finished ones above each open task are protected.
    ancestors: set[UUID] = set()
    protected: set[UUID] = {root.id}
    if root._children:
        protected.add(root._children[0])
    for task in open_tasks:
        parent_id, steps = task._parent, 0
        while parent_id is not None:
            if steps < KEEP:
                protected.add(parent_id)
            if parent_id in ancestors and steps >= KEEP:
                break
            ancestors.add(parent_id)
            parent = tasks.get(parent_id)
            if parent is None:
                break
            if parent_id not in open_ids:
                steps += 1
            parent_id = parent._parent

    live = ancestors | open_ids
    live.update(t.id for t in tasks.values() if t._state & TaskState.NOT_FINISHED_MASK)
    waiting = _waiting_joins(open_tasks)
    removed = 0

    # 1. Drop the dead side branches of finished ancestors.
    for task_id in list(ancestors):
        task = tasks.get(task_id)
        if task is None or not task._state & _FINISHED:
            continue
        dead = [c for c in task._children if c not in live]
        for child_id in dead:
            if _needed(tasks, task, child_id, waiting):
                continue
            _hand_over_end_data(tasks, child_id, waiting)
            task._children.remove(child_id)
            removed += _drop_subtree(top, wf, child_id)

    # 2. Splice finished single-child ancestors out of the chain.
    for task_id in ancestors:
        if task_id in protected:
            continue
        task = tasks.get(task_id)
        if task is None or not task._state & _FINISHED or task._parent is None or len(task._children) != 1:
            continue
        parent = tasks.get(task._parent)
        child = tasks.get(task._children[0])
        if parent is None or child is None:
            continue
        parent._children[parent._children.index(task_id)] = child.id
        child._parent = parent.id
        _forget(top, wf, task)
        removed += 1

    if wf.last_task is not None and wf.last_task.id not in tasks:
        wf.last_task = None
    return removed


def _waiting_joins(open_tasks: list[Any]) -> dict[Any, list[Any]]:
    """Open instances of unstructured joins (parallel, inclusive, end), by spec."""
    waiting: dict[Any, list[Any]] = {}
    for task in open_tasks:
        if isinstance(task.task_spec, UnstructuredJoin) and task._state & TaskState.WAITING:
            waiting.setdefault(task.task_spec, []).append(task)
    return waiting


def _needed(tasks: dict[UUID, Any], branch_point: Any, child_id: UUID, waiting: dict[Any, list[Any]]) -> bool:
    """Whether a dead branch holds a finished instance of a parallel/inclusive join that waits in this pass."""
    specs = [s for s in waiting if isinstance(s, _PASS_JOINS)]
    if not specs:
        return False
    in_branch = {t.task_spec for t in _subtree(tasks, child_id)}
    for spec in specs:
        if spec not in in_branch:
            continue
        for instance in waiting[spec]:
            if _same_pass(tasks, instance, branch_point, spec):
                return True
    return False


def _same_pass(tasks: dict[UUID, Any], instance: Any, branch_point: Any, spec: Any) -> bool:
    """No completed (fired) instance of `spec` lies between the waiting instance and the branch point."""
    parent_id = instance._parent
    while parent_id is not None and parent_id != branch_point.id:
        parent = tasks.get(parent_id)
        if parent is None:
            return True
        if parent.task_spec is spec and parent._state & _COMPLETED:
            return False
        parent_id = parent._parent
    return True


def _hand_over_end_data(tasks: dict[UUID, Any], child_id: UUID, waiting: dict[Any, list[Any]]) -> None:
    """Fold the data of ended branches into the end-join instance that waits, as its firing would merge it."""
    ends = [s for s in waiting if isinstance(s, _EndJoin)]
    if not ends:
        return
    for task in _subtree(tasks, child_id):
        if task.task_spec in ends and task._state & _FINISHED and task._parent in tasks:
            target = tasks.get(waiting[task.task_spec][-1]._parent)
            if target is not None:
                target.data = DeepMerge.merge(dict(tasks[task._parent].data), target.data)


def _subtree(tasks: dict[UUID, Any], task_id: UUID) -> list[Any]:
    found, stack = [], [task_id]
    while stack:
        task = tasks.get(stack.pop())
        if task is not None:
            found.append(task)
            stack.extend(task._children)
    return found


def _drop_subtree(top: Any, wf: Any, task_id: UUID) -> int:
    subtree = _subtree(wf.tasks, task_id)
    for task in subtree:
        _forget(top, wf, task)
    return len(subtree)


def _forget(top: Any, wf: Any, task: Any) -> None:
    wf.tasks.pop(task.id, None)
    top.event_manager.tasks.pop(task.id, None)
    if task.id in top.subprocesses:
        _drop_subprocess(top, task.id)


def _drop_subprocess(top: Any, task_id: UUID) -> None:
    """Remove a finished task's subprocess and every subprocess nested in it."""
    sub = top.subprocesses.pop(task_id)
    for inner_id in [i for i in sub.tasks if i in top.subprocesses]:
        _drop_subprocess(top, inner_id)
    for inner_id in sub.tasks:
        top.event_manager.tasks.pop(inner_id, None)
