"""One transaction per case action: lock, load, act, run engine steps, save state and projections.

Everything that changes a case goes through `CaseTransaction`; an exception anywhere inside
rolls the whole transaction back, so the previous state stays intact.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import case_store
from engine.camunda import serializer
from engine.camunda.script_engine import CamundaScriptEngine, json_safe
from engine.clock import Clock
from engine.db import Database
from engine.definitions import DefinitionStore, LoadedDefinition
from engine.errors import Conflict, EngineError, NotFound, ProcessError
from engine.models import Case, CaseStatus
from engine.open_work import WaitItem, all_tasks, current_variables, open_work
from engine.projections import record_history, write_projections
from engine.pruning import prune

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CaseContext:
    """What an action sees: the locked case row, its workflow and its definition."""

    session: Session
    case: Case
    workflow: Any
    definition: LoadedDefinition
    now: datetime
    actor: str | None = None
    actor_task: Any = None  # the Spiff task id the actor completed, for the history's "who"
    new: bool = False


def process_error(err: Exception) -> ProcessError:
    """A SpiffWorkflow failure as a ProcessError naming the element."""
    spec = getattr(err, "task_spec", None)
    task = getattr(err, "task", None)
    element = getattr(spec, "bpmn_id", None) or getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    message = str(err.args[0]) if err.args else str(err)
    notes = getattr(err, "notes", None)
    if notes:
        message = f"{message} ({'; '.join(notes)})"
    return ProcessError(message, element)


def run_steps(workflow: Any) -> None:
    """Run the engine until only waits remain; SpiffWorkflow errors become ProcessError.

    Spiff's do_engine_steps ends by refreshing timers, which fires any that are due (a cycle's next
    occurrence too) and leaves the element after each READY but not run: a job with no job row, found by
    no one. So run again until no engine task is ready; stop if a pass moves nothing.
    """
    try:
        workflow.do_engine_steps()
        ready = _ready_engine_tasks(workflow)
        while ready:
            workflow.do_engine_steps()
            ready, before = _ready_engine_tasks(workflow), ready
            if ready == before:
                break
    except SpiffWorkflowException as err:
        raise process_error(err) from err


def _ready_engine_tasks(workflow: Any) -> set[Any]:
    return {t.id for t in all_tasks(workflow) if t._state == TaskState.READY and not t.task_spec.manual}


class CaseTransaction:
    """Opens case transactions against one database and definition store."""

    def __init__(self, db: Database, definitions: DefinitionStore, clock: Clock) -> None:
        self.db = db
        self.definitions = definitions
        self.clock = clock

    def script_engine(self, definition: LoadedDefinition, now: datetime | None = None) -> CamundaScriptEngine:
        clock = (lambda: now) if now is not None else self.clock
        return CamundaScriptEngine(definition.decisions, clock)

    @contextmanager
    def open(self, case_id: str, actor: str | None = None, now: datetime | None = None) -> Iterator[CaseContext]:
        """Lock and load a case; on normal exit save it (state, version, projections)."""
        with self.open_found(lambda _session: case_id, actor, now) as ctx:
            yield ctx

    @contextmanager
    def open_found(self, find: Callable[[Session], str], actor: str | None = None, now: datetime | None = None
                   ) -> Iterator[CaseContext]:
        """Like open(), the case being found by `find` inside the same transaction, before it is locked.

        A job's completion looks its case up this way: one transaction (one pool checkout, BEGIN and
        COMMIT) instead of a lookup transaction and then the case transaction.
        """
        with self.db.transaction() as session:
            case_id = find(session)
            row = case_store.load_locked(session, case_id)
            if row is None:
                raise NotFound(f"case {case_id} does not exist")
            definition = self.definitions.load(row.definition_id, session)  # same tx: no self-deadlock
            moment = now or self.clock()
            engine = self.script_engine(definition, now)
            workflow = serializer.loads(row.state, row.state_format, row.spiff_version, definition.spec,
                                        definition.subprocess_specs, engine)
            ctx = CaseContext(session, row, workflow, definition, moment, actor)
            yield ctx
            self.save(ctx)

    @contextmanager
    def create(self, definition_id: int, business_key: str | None, actor: str | None = None
               ) -> Iterator[CaseContext]:
        """Create a case of a definition; the caller starts it inside the block."""
        definition = self.definitions.load(definition_id)
        with self.db.transaction() as session:
            moment = self.clock()
            workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                    script_engine=self.script_engine(definition))
            row = Case(id=str(uuid.uuid4()), definition_id=definition_id, business_key=business_key,
                       status=CaseStatus.ACTIVE, state="", state_format=serializer.STATE_VERSION,
                       spiff_version=serializer.SPIFF_VERSION, version=0,
                       variables={}, waiting=[], created_at=moment, updated_at=moment)
            session.add(row)
            session.flush()
            ctx = CaseContext(session, row, workflow, definition, moment, actor, new=True)
            yield ctx
            self.save(ctx)

    def save(self, ctx: CaseContext) -> None:
        workflow, case = ctx.workflow, ctx.case
        record_history(ctx.session, case.id, workflow, ctx.now, ctx.actor, ctx.actor_task)
        prune(workflow)
        finished = workflow.is_completed()
        ended = finished or case.status == CaseStatus.CANCELLED
        items: list[WaitItem] = [] if ended else open_work(workflow)
        status = case.status
        if finished and status not in (CaseStatus.CANCELLED,):
            status = CaseStatus.COMPLETED
        try:
            state = serializer.dumps(workflow)
            variables = json_safe(current_variables(workflow))
        except (TypeError, ValueError) as err:
            raise ProcessError(f"case variables cannot be saved: {err}") from err
        values = {"state": state, "state_format": serializer.STATE_VERSION, "spiff_version": serializer.SPIFF_VERSION,
                  "version": case.version + 1,
                  "variables": variables, "waiting": [i.describe() for i in items], "updated_at": ctx.now,
                  "status": status,
                  "ended_at": ctx.now if status in (CaseStatus.COMPLETED, CaseStatus.CANCELLED) else None}
        if not case_store.save(ctx.session, case, values):  # also sets case.version/status etc. in memory
            raise Conflict(f"case {case.id} was changed by someone else; reload and try again")
        write_projections(ctx.session, case.id, workflow, items, ctx.now, ctx.actor, first=ctx.new)


def guard(action: Callable[P, R]) -> Callable[P, R]:
    """Turn SpiffWorkflow failures raised by an action into ProcessError (engine errors pass through)."""

    @functools.wraps(action)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except EngineError:
            raise
        except SpiffWorkflowException as err:
            raise process_error(err) from err

    return wrapper
