"""Continuing a receive task that has no message: Camunda's `signal` of a waiting execution.

Camunda waits at such a receive task until the application signals the execution; Polku names
the wait by its case and element id, since a case's waits are listed by element (`waiting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState

from engine.camunda.specs.tasks import TRIGGER_KEY
from engine.errors import Conflict, NotFound
from engine.models import CaseStatus
from engine.open_work import all_tasks
from engine.transition import run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine


def trigger(engine: Engine, case_id: str, element_id: str, variables: Mapping[str, Any] | None,
            actor: str | None) -> None:
    """Continue the case past the receive task `element_id` it waits at, setting `variables`."""
    with engine.tx.open(case_id, actor) as ctx:
        if ctx.case.status != CaseStatus.ACTIVE:
            raise Conflict(f"case {case_id} is {ctx.case.status.value}")
        waiting = [t for t in all_tasks(ctx.workflow) if t.state == TaskState.STARTED
                   and TRIGGER_KEY in t.internal_data and t.task_spec.bpmn_id == element_id]
        if not waiting:
            raise NotFound(f"case {case_id} does not wait at '{element_id}' to be triggered")
        if len(waiting) > 1:
            raise Conflict(f"{len(waiting)} instances of '{element_id}' wait in case {case_id}; "
                           "triggering one of them by element id is not supported")
        task = waiting[0]
        task.set_data(**dict(variables or {}))
        task.complete()
        ctx.actor_task = task.id
        run_steps(ctx.workflow)
