"""Engine tables: definitions, cases and the projections the inbox and dashboards read.

The projections (task, job, timer, message_subscription, history_event, incident) are written by
the same code path that saves a case's state (engine/transition.py), so they cannot drift.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The model's Table, typed as one (Core insert/update/delete want a Table; `__table__` is a FromClause)."""
    return model.metadata.tables[model.__tablename__]


def enum_column(cls: type[enum.Enum], length: int = 20) -> Enum:
    """A portable enum column stored as its value string; no native type, so adding a value needs no DDL."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class CaseStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskStatus(enum.Enum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Resource(Base):
    __tablename__ = "resource"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))


class Definition(Base):
    """One version of a process key; cases stay on the version they started with."""

    __tablename__ = "definition"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    hash: Mapped[str] = mapped_column(String(64))
    start_messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Case(Base):
    """A running process instance; `state` is its SpiffWorkflow state without the spec."""

    __tablename__ = "case"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition.id"), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), index=True)
    state: Mapped[str] = mapped_column(Text)
    state_format: Mapped[str] = mapped_column(String(20))
    spiff_version: Mapped[str | None] = mapped_column(String(20))  # SpiffWorkflow's serializer version of `state`
    version: Mapped[int] = mapped_column(Integer, default=1)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    waiting: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Base):
    """A human task (user or manual task) as the inbox sees it."""

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_open_case", "status", "case_id"),
                      # the inbox (0014): its tabs and sorting read these alone (index-only on PostgreSQL)
                      Index("ix_task_inbox", "status", "assignee", "due", "follow_up", "case_id", "id"),
                      Index("ix_task_status_due", "status", "due", "id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus))
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    candidate_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidate_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    follow_up: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form_key: Mapped[str | None] = mapped_column(String(300))
    form: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(String(200))


class TaskCandidate(Base):
    """One candidate group or user of an open task, so the inbox query is an indexed join."""

    __tablename__ = "task_candidate"
    __table_args__ = (Index("ix_task_candidate_kind_value", "kind", "value", "task_id"),)  # the inbox (0014)
    task_id: Mapped[str] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(5), primary_key=True)  # "group" | "user"
    value: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class Job(Base):
    """An external task waiting for a worker (topic, lock, retries)."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_fetch", "topic", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(300))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int | None] = mapped_column(Integer)
    lock_owner: Mapped[str | None] = mapped_column(String(200))  # the worker's id (Camunda's workerId)
    lock_account: Mapped[str | None] = mapped_column(String(200))  # the account that fetched it; None: in-process
    lock_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    suspended: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Timer(Base):
    __tablename__ = "timer"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class MessageSubscription(Base):
    __tablename__ = "message_subscription"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(300), index=True)
    element_id: Mapped[str] = mapped_column(String(200))


class HistoryEvent(Base):
    """One element instance of a case: when it started and ended, how, and by whom."""

    __tablename__ = "history_event"
    # The element instances still open (timers, message waits): where and since when a case waits, found without
    # reading the case's whole history (the managers' views ask it for every waiting case).
    __table_args__ = (Index("ix_history_event_open", "case_id", sqlite_where=text("ended_at IS NULL"),
                            postgresql_where=text("ended_at IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    element_type: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_seq: Mapped[float | None] = mapped_column(Float)  # order of completion within one transaction
    actor: Mapped[str | None] = mapped_column(String(200))


FAILED_EXTERNAL_TASK = "failedExternalTask"  # incident kind: an external task whose retries ran out
FAILED_TIMER = "failedTimer"  # incident kind: a timer whose firing failed (the case could not move on from it)
OBSOLETE = "obsolete"  # incident resolution: the case left the failed job or timer (moved on, was cancelled, ended)


class Incident(Base):
    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(String(20))  # retried | rearmed | resolved
    note: Mapped[str | None] = mapped_column(Text)  # why, as the person who repaired it said


class TaskEvent(Base):
    """One change to a human task's assignment or dates: who did it, when, from what to what, why."""

    __tablename__ = "task_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # claim | unclaim | assign | delegate | reassign | ...
    actor: Mapped[str | None] = mapped_column(String(200))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
