"""Drafts of a task's form: what one person filled in so far, kept until they complete the task.

A draft belongs to one task and one user (two people never overwrite each other's drafts); it is not
validated (a half-filled form is the point of a draft). Completing the task removes its drafts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.models import CaseworkBase, UtcDateTime


class TaskDraft(CaseworkBase):
    __tablename__ = "task_draft"
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # engine task id (no FK: tasks are pruned)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)  # the form as submitted (text, not yet typed)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime)


def save_draft(session: Session, task_id: str, user_id: str, values: Mapping[str, Any], at: datetime) -> TaskDraft:
    """Keep `values` as the user's draft of the task, replacing their earlier one."""
    draft = session.get(TaskDraft, (task_id, user_id))
    if draft is None:
        draft = TaskDraft(task_id=task_id, user_id=user_id, values=dict(values), saved_at=at)
        session.add(draft)
    else:
        draft.values = dict(values)
        draft.saved_at = at
    session.flush()
    return draft


def draft_of(session: Session, task_id: str, user_id: str) -> TaskDraft | None:
    return session.get(TaskDraft, (task_id, user_id))


def discard_drafts(session: Session, task_id: str) -> int:
    """Remove every draft of the task (it was completed); returns how many there were."""
    result = session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))
    return int(getattr(result, "rowcount", 0) or 0)
