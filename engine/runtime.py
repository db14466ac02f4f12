"""The engine's public face: deploy, start, complete, correlate, cancel — each one transaction.

Jobs, timers and messages have their own modules (jobs.py, timers.py, messages.py); this class
gathers them so callers (CLI, web app, workers) hold one object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import assignment, jobs, messages, timers, triggers
from engine import incidents as repairs
from engine.camunda import serializer
from engine.camunda_forms import validate_form_submission
from engine.clock import Clock, aware, utcnow
from engine.db import Database
from engine.definitions import DefinitionStore
from engine.errors import Conflict, FormError, NotFound
from engine.forms import Form, validate_submission
from engine.incidents import IncidentRecord
from engine.models import Case, CaseStatus, Definition, Task, TaskStatus, Timer
from engine.retry import RetryStrategy
from engine.transition import CaseContext, CaseTransaction, guard, run_steps


def find_task(ctx: CaseContext, task_id: str) -> Any:
    try:
        return ctx.workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - unknown or pruned ids are "not found"
        return None


class Engine:
    """A BPMN runtime over one database: every method is one transaction on one case."""

    def __init__(self, db: Database, clock: Clock = utcnow, retry: RetryStrategy | None = None) -> None:
        self.db = db
        self.clock = clock
        self.definitions = DefinitionStore(db)
        self.tx = CaseTransaction(db, self.definitions, clock)
        self.retry = retry or RetryStrategy()

    # -- definitions -------------------------------------------------------------------------
    def deploy(self, resources: dict[str, bytes], name: str = "deployment", source: str | None = None) -> Any:
        return self.definitions.deploy(resources, name, source)

    # -- cases -------------------------------------------------------------------------------
    @guard
    def start(self, key: str, business_key: str | None = None, variables: Mapping[str, Any] | None = None,
              actor: str | None = None) -> str:
        """Start a case of the latest version of `key`; returns the case id."""
        definition = self.definitions.latest(key)
        return self.start_definition(definition.id, business_key, variables, actor)

    @guard
    def start_definition(self, definition_id: int, business_key: str | None = None,
                         variables: Mapping[str, Any] | None = None, actor: str | None = None,
                         message: tuple[str, Mapping[str, Any]] | None = None) -> str:
        with self.tx.create(definition_id, business_key, actor) as ctx:
            start = ctx.workflow.get_tasks(state=TaskState.READY)[0]
            start.set_data(**dict(variables or {}))
            if business_key is not None:
                ctx.workflow.data["businessKey"] = business_key
            if message is not None:
                messages.keep_only_message_start(ctx.workflow, message[0])
            run_steps(ctx.workflow)
            if message is not None:
                messages.deliver(ctx, message[0], message[1])
            return ctx.case.id

    @guard
    def complete_task(self, task_id: str, data: Mapping[str, Any] | None = None, actor: str | None = None) -> None:
        """Complete a human task with form data (validated against its form); Conflict if already done."""
        case_id = self._open_task_case(task_id)
        with self.tx.open(case_id, actor) as ctx:
            if ctx.case.status != CaseStatus.ACTIVE:
                raise Conflict(f"case {case_id} is {ctx.case.status.value}")
            task = find_task(ctx, task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict(f"task {task_id} is no longer open")
            form_json = getattr(task.task_spec, "form", None)
            values = dict(data or {})
            if form_json:
                values = validate_submission(Form.from_json(form_json), values, current=task.data)
                linked = self.definitions.linked_form(ctx.definition, form_json, ctx.session)
                if linked is not None:  # a Camunda Form (camunda:formRef): its fields, rules and hidden parts
                    values = validate_form_submission(linked, values, task.data, today=ctx.now.date())
            task.set_data(**values)
            task.run()
            ctx.actor_task = task.id
            run_steps(ctx.workflow)

    def task_form_schema(self, task_id: str) -> dict[str, Any] | None:
        """The Camunda Form (form-js schema) a task's camunda:formRef links to; None for other tasks."""
        with self.db.read() as session:
            row = session.execute(select(Task, Case.definition_id).join(Case, Case.id == Task.case_id)
                                  .where(Task.id == task_id)).one_or_none()
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            task, definition_id = row
            if not (task.form or {}).get("form_ref"):
                return None
            definition = self.definitions.load(definition_id, session)
            return self.definitions.linked_form(definition, task.form, session)

    def _open_task_case(self, task_id: str) -> str:
        with self.db.read() as session:
            row = session.get(Task, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        if row.status != TaskStatus.OPEN:
            raise Conflict(f"task {task_id} was already {row.status.value}"
                           + (f" by {row.completed_by}" if row.completed_by else ""))
        return row.case_id

    # -- who works on a task (engine/assignment.py): each change is one case transaction ------------
    @guard
    def claim(self, task_id: str, user: str | None, actor: str | None = None) -> None:
        """`user` takes the task (None: unclaim); Conflict if someone else holds it or it is no longer open."""
        if user is None:
            assignment.unclaim(self, task_id, actor)
        else:
            assignment.claim(self, task_id, user, actor)

    @guard
    def unclaim(self, task_id: str, actor: str | None = None) -> None:
        """Give the task back to its candidates; Conflict if it is no longer open."""
        assignment.unclaim(self, task_id, actor)

    @guard
    def set_assignee(self, task_id: str, user: str | None, actor: str | None, reason: str | None = None) -> None:
        """Assign the task to `user` (None: nobody) whoever holds it now, e.g. a team lead's decision."""
        assignment.set_assignee(self, task_id, user, actor, reason)

    @guard
    def delegate(self, task_id: str, user: str, actor: str | None) -> None:
        """Hand the task to `user`; its owner (who delegated) stays on record (Camunda's delegation, no resolve)."""
        assignment.delegate(self, task_id, user, actor)

    @guard
    def reassign(self, case_id: str, from_user: str, to_user: str, actor: str | None = None,
                 reason: str | None = None) -> list[str]:
        """Hand the case's open tasks of `from_user` to `to_user` (a case manager change); returns their ids."""
        return assignment.reassign(self, case_id, from_user, to_user, actor, reason)

    @guard
    def set_dates(self, task_id: str, due: datetime | None, follow_up: datetime | None, actor: str | None) -> None:
        """Set a task's due and follow-up dates (None clears one); recorded in its history as 'dates'."""
        assignment.set_dates(self, task_id, due, follow_up, actor)

    def set_held_variables(self, case_id: str, variables: Mapping[str, Any], actor: str | None = None) -> int:
        """Change process variables wherever the case holds them, called processes included (their copies)."""
        from engine.process_variables import set_held_variables

        return set_held_variables(self, case_id, variables, actor)

    def task_history(self, task_id: str) -> list[assignment.TaskHistoryEntry]:
        """The task's life, oldest first: created, every assignment change (who, when, from, to, why), the end."""
        return assignment.task_history(self, task_id)

    @guard
    def cancel(self, case_id: str, actor: str | None = None) -> None:
        with self.tx.open(case_id, actor) as ctx:
            if ctx.case.status in (CaseStatus.COMPLETED, CaseStatus.CANCELLED):
                raise Conflict(f"case {case_id} has already ended")
            ctx.workflow.cancel()
            ctx.case.status = CaseStatus.CANCELLED

    def suspend(self, case_id: str) -> None:
        self._set_status(case_id, CaseStatus.ACTIVE, CaseStatus.SUSPENDED)

    def resume(self, case_id: str) -> None:
        self._set_status(case_id, CaseStatus.SUSPENDED, CaseStatus.ACTIVE)

    def _set_status(self, case_id: str, expected: CaseStatus, new: CaseStatus) -> None:
        with self.db.transaction() as session:
            row = session.execute(select(Case).where(Case.id == case_id).with_for_update()).scalar_one_or_none()
            if row is None:
                raise NotFound(f"case {case_id} does not exist")
            if row.status != expected:
                raise Conflict(f"case {case_id} is {row.status.value}, not {expected.value}")
            session.execute(update(Case).where(Case.id == case_id)
                            .values(status=new, version=row.version + 1, updated_at=self.clock()))

    # -- reading -------------------------------------------------------------------------------
    def case(self, case_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            row = session.execute(select(Case, Definition).join(Definition).where(Case.id == case_id)).one_or_none()
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        return _case_json(*row)

    def task_data(self, session: Session, case_id: str, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The data of these tasks as the process holds it (a called process's own copy of its variables), read from
        the saved state in the caller's transaction, without locking or changing the case; an id no longer in the
        state (completed and pruned) is left out."""
        row = session.get(Case, case_id)
        if row is None:
            return {}
        definition = self.definitions.load(row.definition_id, session)
        workflow = serializer.loads(row.state, row.state_format, row.spiff_version, definition.spec,
                                    definition.subprocess_specs, self.tx.script_engine(definition))
        out: dict[str, dict[str, Any]] = {}
        for task_id in task_ids:
            try:
                task = workflow.get_task_from_id(UUID(task_id))
            except Exception:  # noqa: BLE001 - an id pruned meanwhile is simply not waiting
                continue
            out[task_id] = dict(task.data)
        return out

    def cases(self, status: CaseStatus | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        query = select(Case, Definition).join(Definition).order_by(Case.created_at).limit(limit)
        if status is not None:
            query = query.where(Case.status == status)
        with self.db.read() as session:
            return [_case_json(c, d) for c, d in session.execute(query).all()]

    def open_tasks(self, case_id: str | None = None) -> list[Task]:
        query = select(Task).where(Task.status == TaskStatus.OPEN).order_by(Task.created_at)
        if case_id is not None:
            query = query.where(Task.case_id == case_id)
        with self.db.read() as session:
            return list(session.execute(query).scalars())

    # -- jobs, timers, messages ----------------------------------------------------------------
    # `account`: the authenticated account a worker acts for (engine/jobs.py); None acts on any job.
    def fetch_and_lock(self, worker_id: str, topics: list[jobs.TopicRequest], max_jobs: int = 10,
                       use_priority: bool = True, account: str | None = None) -> list[jobs.LockedJob]:
        return jobs.fetch_and_lock(self, worker_id, topics, max_jobs, use_priority, account)

    @guard
    def complete_job(self, job_id: str, worker_id: str, variables: Mapping[str, Any] | None = None,
                     account: str | None = None) -> None:
        jobs.complete(self, job_id, worker_id, variables, account)

    def fail_job(self, job_id: str, worker_id: str, message: str, details: str | None = None,
                 retries: int | None = None, retry_timeout_ms: int | None = None,
                 account: str | None = None) -> jobs.FailureOutcome:
        return jobs.fail(self, job_id, worker_id, message, details, retries, retry_timeout_ms, account)

    @guard
    def bpmn_error(self, job_id: str, worker_id: str, code: str, message: str | None = None,
                   variables: Mapping[str, Any] | None = None, account: str | None = None) -> None:
        jobs.bpmn_error(self, job_id, worker_id, code, message, variables, account)

    def extend_lock(self, job_id: str, worker_id: str, duration_ms: int, account: str | None = None) -> None:
        jobs.extend_lock(self, job_id, worker_id, duration_ms, account)

    def unlock(self, job_id: str, worker_id: str | None = None, account: str | None = None) -> None:
        jobs.unlock(self, job_id, worker_id, account)

    def release_expired_locks(self, now: datetime | None = None) -> int:
        return jobs.release_expired_locks(self, now or self.clock())

    def fire_due_timers(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Fire what is due at `now` (default the clock), case by case until nothing is; how many fired."""
        return timers.fire_due(self, now or self.clock(), limit)

    @guard
    def fire_timer(self, timer_id: str, at: datetime | None = None) -> bool:
        return timers.fire(self, timer_id, at)

    def waiting_timers(self, case_id: str, element_id: str | None = None) -> list[tuple[str, datetime]]:
        """The case's waiting timers as (id, due time), soonest first; e.g. to fire one ahead of time."""
        query = select(Timer.id, Timer.due_at).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id)
        if element_id is not None:
            query = query.where(Timer.element_id == element_id)
        with self.db.read() as session:
            return [(timer_id, aware(due)) for timer_id, due in session.execute(query).all()]

    @guard
    def correlate(self, message: str, case_id: str | None = None, business_key: str | None = None,
                  variables: Mapping[str, Any] | None = None, all_matches: bool = False) -> list[str]:
        return messages.correlate(self, message, case_id, business_key, variables, all_matches)

    @guard
    def trigger(self, case_id: str, element_id: str, variables: Mapping[str, Any] | None = None,
                actor: str | None = None) -> None:
        """Continue a case waiting at a receive task without a message (Camunda's `signal`)."""
        triggers.trigger(self, case_id, element_id, variables, actor)

    # -- reads for the Camunda-compatible REST API ------------------------------------------------
    def external_jobs(self, job_ids: list[str] | None = None, topic: str | None = None,
                      worker_id: str | None = None, locked: bool | None = None, case_id: str | None = None,
                      business_key: str | None = None, element_id: str | None = None,
                      with_retries_left: bool | None = None, offset: int = 0, limit: int = 1000,
                      lock_account: str | None = None) -> list[dict[str, Any]]:
        """Jobs with their case and definition, oldest first; `locked` means a lock that has not run out."""
        from engine.models import Job

        now = self.clock()
        query = (select(Job, Case, Definition).join(Case, Case.id == Job.case_id)
                 .join(Definition, Definition.id == Case.definition_id)
                 .order_by(Job.created_at, Job.id).offset(offset).limit(limit))
        if job_ids is not None:
            query = query.where(Job.id.in_(job_ids))
        for column, value in ((Job.topic, topic), (Job.lock_owner, worker_id), (Job.case_id, case_id),
                              (Case.business_key, business_key), (Job.element_id, element_id),
                              (Job.lock_account, lock_account)):
            if value is not None:
                query = query.where(column == value)
        if locked is True:
            query = query.where(Job.lock_expires_at.is_not(None), Job.lock_expires_at > now)
        elif locked is False:
            query = query.where((Job.lock_expires_at.is_(None)) | (Job.lock_expires_at <= now))
        if with_retries_left is True:
            query = query.where((Job.retries.is_(None)) | (Job.retries > 0))
        elif with_retries_left is False:
            query = query.where(Job.retries == 0)
        with self.db.read() as session:
            rows = session.execute(query).all()
        return [{
            "id": job.id, "topic": job.topic, "caseId": job.case_id, "businessKey": case.business_key,
            "definitionId": definition.id, "definitionKey": definition.key, "definitionVersion": definition.version,
            "elementId": job.element_id, "workerId": job.lock_owner, "lockAccount": job.lock_account,
            "lockExpiresAt": aware(job.lock_expires_at),
            "retries": job.retries, "priority": job.priority, "errorMessage": job.error_message,
            "errorDetails": job.error_details, "suspended": bool(job.suspended) or case.status == CaseStatus.SUSPENDED,
            "createdAt": aware(job.created_at), "variables": dict(job.variables or {}),
        } for job, case, definition in rows]

    def message_waiters(self, message: str, case_id: str | None = None, business_key: str | None = None
                        ) -> list[str]:
        """Ids of active cases subscribed to the message (so a caller can tell delivery from a start)."""
        return messages.waiting_cases(self, message, case_id, business_key)

    # -- incidents -------------------------------------------------------------------------------------
    def incidents(self, open_only: bool = True, incident_id: int | None = None, case_id: str | None = None,
                  element_id: str | None = None, kind: str | None = None, job_id: str | None = None,
                  definition_id: int | None = None, offset: int = 0, limit: int = 1000
                  ) -> list[IncidentRecord]:
        """Incidents with their case, oldest first; only open ones unless `open_only` is False."""
        return repairs.list_incidents(self, open_only, incident_id, case_id, element_id, kind, job_id,
                                      definition_id, offset, limit)

    def count_incidents(self, open_only: bool = True, incident_id: int | None = None, case_id: str | None = None,
                        element_id: str | None = None, kind: str | None = None, job_id: str | None = None,
                        definition_id: int | None = None) -> int:
        return repairs.count_incidents(self, open_only, incident_id, case_id, element_id, kind, job_id,
                                       definition_id)

    def incident(self, incident_id: int) -> IncidentRecord:
        return repairs.get(self, incident_id)

    @guard
    def retry_incident(self, incident_id: int, actor: str | None, note: str | None, retries: int | None = None,
                       at: datetime | None = None, variables: Mapping[str, Any] | None = None
                       ) -> IncidentRecord:
        """Retry a failed job or re-arm a failed timer, variables set first; one transaction (engine/incidents.py)."""
        return repairs.retry(self, incident_id, actor, note, retries, at, variables)

    def resolve_incident(self, incident_id: int, actor: str | None, note: str | None) -> IncidentRecord:
        """Close an incident without a retry: a job stays at 0 retries (engine/incidents.py says what that means)."""
        return repairs.resolve(self, incident_id, actor, note)

    def set_job_retries(self, job_id: str, retries: int, actor: str | None, note: str | None = None) -> None:
        repairs.set_job_retries(self, job_id, retries, actor, note)

    @guard
    def set_timer_retries(self, timer_id: str, retries: int, actor: str | None, due: datetime | None = None,
                          note: str | None = None) -> None:
        repairs.set_timer_retries(self, timer_id, retries, actor, due, note)


def _case_json(case: Case, definition: Definition) -> dict[str, Any]:
    return {
        "id": case.id, "key": definition.key, "version": definition.version, "definitionId": definition.id,
        "businessKey": case.business_key, "status": case.status.value, "waiting": case.waiting or [],
        "variables": case.variables or {},
        "createdAt": _iso(case.created_at), "endedAt": _iso(case.ended_at),
    }


def _iso(value: datetime | None) -> str | None:
    stored = aware(value)
    return stored.isoformat() if stored is not None else None


__all__ = ["Engine", "FormError"]
