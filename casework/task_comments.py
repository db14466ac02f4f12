"""Comments on a task, as in Camunda Tasklist: who wrote what, when, beside the task's form.

A comment is about a client's case, so only someone who may see the task may read or write one
(`casework.task_access`); the caller logs the access when it shows them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import NotFound, Refused
from casework.models import CaseworkBase, UtcDateTime
from casework.staff import Staff
from casework.task_access import TaskPeople, may_see
from engine.models import Case, Task

MAX_COMMENT = 4000  # characters: a note, not a document


class TaskComment(CaseworkBase):
    __tablename__ = "task_comment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey(Task.id), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey(Case.id), index=True)
    author: Mapped[str] = mapped_column(String(200))  # the staff user id
    author_name: Mapped[str] = mapped_column(String(300))  # as it was when written
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


def _task(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


def add_comment(session: Session, task_id: str, author: Staff, text: str, at: datetime) -> TaskComment:
    """A new comment by `author`; Refused when empty, too long, or the author may not see the task."""
    task = _task(session, task_id)
    if not may_see(session, author, TaskPeople.of(task)):
        raise Refused("you may not comment on this task")
    text = text.strip()
    if not text:
        raise Refused("a comment needs some text")
    if len(text) > MAX_COMMENT:
        raise Refused(f"a comment may have at most {MAX_COMMENT} characters")
    comment = TaskComment(task_id=task_id, case_id=task.case_id, author=author.id, author_name=author.name,
                          at=at, text=text)
    session.add(comment)
    session.flush()
    return comment


def comments_of(session: Session, task_id: str) -> list[TaskComment]:
    """The task's comments, oldest first (the caller has checked that the reader may see the task)."""
    return list(session.scalars(select(TaskComment).where(TaskComment.task_id == task_id)
                                .order_by(TaskComment.at, TaskComment.id)))
