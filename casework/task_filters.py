"""Named inbox filters (criteria and columns), saved for oneself or shared with one's team, as in Camunda Tasklist.

A saved filter never holds a client search: a name or an identity code is personal data and would
outlive the search in the database. Criteria are stored as JSON in the shape of `SavedCriteria`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, false, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import NotFound, Refused
from casework.models import CaseworkBase, UtcDateTime
from casework.staff import Staff

COLUMNS = ("business_key", "client", "case_manager", "assignee", "created", "due", "follow_up")
DEFAULT_COLUMNS = ("business_key", "client", "case_manager", "created", "due", "follow_up")
TABS = ("mine", "groups", "follow_up", "all")
SORTS = ("name", "businessKey", "client", "caseManager", "created", "due", "followUp", "assignee")
MAX_FILTERS = 50  # per person: a list to choose from, not a store


@dataclass(frozen=True)
class SavedCriteria:
    """What a saved filter holds (never a client search)."""

    tab: str = "mine"
    step: str | None = None  # task definition key
    due_before: date | None = None
    overdue: bool = False
    business_key: str | None = None
    sort: str = "due"
    descending: bool = False
    columns: tuple[str, ...] = field(default=DEFAULT_COLUMNS)

    def __post_init__(self) -> None:
        if self.tab not in TABS:
            raise Refused(f"unknown tab {self.tab!r}")
        if self.sort not in SORTS:
            raise Refused(f"unknown sort {self.sort!r}")
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown:
            raise Refused(f"unknown columns {unknown}")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["due_before"] = self.due_before.isoformat() if self.due_before else None
        out["columns"] = list(self.columns)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedCriteria:
        due = data.get("due_before")
        return cls(tab=data.get("tab") or "mine", step=data.get("step") or None,
                   due_before=date.fromisoformat(due) if due else None, overdue=bool(data.get("overdue")),
                   business_key=data.get("business_key") or None, sort=data.get("sort") or "due",
                   descending=bool(data.get("descending")),
                   columns=tuple(c for c in data.get("columns") or DEFAULT_COLUMNS if c in COLUMNS))


class TaskFilterRecord(CaseworkBase):
    """A saved filter: its owner's, and the team's too when `team_id` is set."""

    __tablename__ = "task_filter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @property
    def saved(self) -> SavedCriteria:
        return SavedCriteria.from_json(self.criteria)


def save_filter(session: Session, owner: Staff, name: str, criteria: SavedCriteria, at: datetime,
                team_id: str | None = None) -> TaskFilterRecord:
    """Save a named filter for `owner`, shared with `team_id` (one of the owner's teams) when given."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Refused("a filter needs a name of at most 100 characters")
    if team_id is not None and team_id not in owner.teams:
        raise Refused("a filter can be shared only with one's own team")
    mine = list(session.scalars(select(TaskFilterRecord).where(TaskFilterRecord.owner == owner.id)))
    if len(mine) >= MAX_FILTERS:
        raise Refused(f"at most {MAX_FILTERS} saved filters per person")
    if any(f.name.casefold() == name.casefold() for f in mine):
        raise Refused("you already have a filter with this name")
    record = TaskFilterRecord(name=name, owner=owner.id, team_id=team_id, criteria=criteria.to_json(),
                              created_at=at)
    session.add(record)
    session.flush()
    return record


def filters_for(session: Session, staff: Staff) -> list[TaskFilterRecord]:
    """One's own filters and those shared with one's teams, by name."""
    shared = TaskFilterRecord.team_id.in_(sorted(staff.teams)) if staff.teams else false()
    return list(session.scalars(select(TaskFilterRecord).where(or_(TaskFilterRecord.owner == staff.id, shared))
                                .order_by(TaskFilterRecord.name, TaskFilterRecord.id)))


def get_filter(session: Session, staff: Staff, filter_id: int) -> TaskFilterRecord:
    """A filter `staff` may use (own or shared with their team); NotFound otherwise (no hint it exists)."""
    record = session.get(TaskFilterRecord, filter_id)
    if record is None or (record.owner != staff.id and record.team_id not in staff.teams):
        raise NotFound(f"no filter {filter_id}")
    return record


def delete_filter(session: Session, staff: Staff, filter_id: int) -> None:
    """Only the owner deletes a filter (a shared one goes for the whole team)."""
    record = get_filter(session, staff, filter_id)
    if record.owner != staff.id:
        raise Refused("only the person who saved a filter may delete it")
    session.delete(record)
    session.flush()
