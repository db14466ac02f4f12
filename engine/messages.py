"""Correlating a message to a waiting case (by case id or business key), or starting one with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.control import BpmnStartTask, StartEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.errors import Conflict, NotFound
from engine.models import Case, CaseStatus, MessageSubscription
from engine.transition import CaseContext, run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine


def keep_only_message_start(workflow: Any, message: str) -> None:
    """Starting by a message: the process's other start events (a none start above all) must not fire.

    With several start events SpiffWorkflow splits after its Start task and lets the first start
    event to fire win; a none start event would fire at once. So run the split, then cancel every
    start event that does not catch this message.
    """
    for _ in range(2):
        for task in workflow.get_tasks(state=TaskState.READY):
            if isinstance(task.task_spec, BpmnStartTask | StartEventSplit):
                task.run()
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        spec = task.task_spec
        if isinstance(spec, StartEvent) and isinstance(task.parent.task_spec, StartEventSplit):
            definition = spec.event_definition
            if not (isinstance(definition, MessageEventDefinition) and definition.name == message):
                task.cancel()


def deliver(ctx: CaseContext, message: str, variables: Mapping[str, Any] | None) -> None:
    """Hand the message to the workflow; its variables are merged into the catching task."""
    ctx.workflow.catch(BpmnEvent(MessageEventDefinition(message), payload=dict(variables or {})))
    run_steps(ctx.workflow)


def waiting_cases(engine: Engine, message: str, case_id: str | None = None,
                  business_key: str | None = None) -> list[str]:
    """Ids of the active cases subscribed to `message` (optionally one case or one business key)."""
    query = (select(MessageSubscription.case_id).join(Case, Case.id == MessageSubscription.case_id)
             .where(MessageSubscription.message_name == message, Case.status == CaseStatus.ACTIVE).distinct())
    if case_id is not None:
        query = query.where(Case.id == case_id)
    if business_key is not None:
        query = query.where(Case.business_key == business_key)
    with engine.db.transaction() as session:
        return list(session.execute(query).scalars())


def correlate(engine: Engine, message: str, case_id: str | None, business_key: str | None,
              variables: Mapping[str, Any] | None, all_matches: bool) -> list[str]:
    """Deliver to the waiting case(s); with no waiting case, start one by message start event."""
    case_ids = waiting_cases(engine, message, case_id, business_key)
    if not case_ids:
        if case_id is None:
            starters = engine.definitions.by_start_message(message)
            if len(starters) == 1:
                started = engine.start_definition(starters[0].id, business_key, None,
                                                  message=(message, dict(variables or {})))
                return [started]
            if len(starters) > 1:
                raise Conflict(f"message '{message}' starts {len(starters)} processes; name one")
        raise NotFound(f"no case waits for message '{message}'{_where(case_id, business_key)}")
    if len(case_ids) > 1 and not all_matches:
        raise Conflict(f"message '{message}' matches {len(case_ids)} cases; give a case id or business key")
    delivered = []
    for target in case_ids:
        try:
            with engine.tx.open(target) as ctx:
                # re-checked under the case lock: a concurrent correlation may have taken the wait
                still = ctx.session.execute(select(MessageSubscription.id).where(
                    MessageSubscription.case_id == target, MessageSubscription.message_name == message)).first()
                if still is None or ctx.case.status != CaseStatus.ACTIVE:
                    raise _Gone
                deliver(ctx, message, variables)
        except _Gone:
            continue
        delivered.append(target)
    if not delivered:
        raise NotFound(f"no case waits for message '{message}'{_where(case_id, business_key)} any more")
    return delivered


class _Gone(Exception):
    """Raised inside a case transaction to roll it back: the case stopped waiting for the message."""


def _where(case_id: str | None, business_key: str | None) -> str:
    return f" for case {case_id}" if case_id else (f" with business key {business_key}" if business_key else "")
