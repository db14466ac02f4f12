"""Staff users and their roles, as far as casework needs them (login belongs to the web app)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.errors import get_or_raise
from casework.models import UtcDateTime, enum_type
from engine.models import Base


class Role(enum.Enum):
    COORDINATOR = "coordinator"
    CASE_MANAGER = "case_manager"
    TEAM_LEAD = "team_lead"
    MANAGER = "manager"
    PROCESS_OWNER = "process_owner"
    ADMIN = "admin"
    WORKER = "worker"
    INTEGRATION = "integration"


# Roles whose holders may be named as a client's case manager (a person, never a group).
CASE_MANAGER_ROLES = frozenset({Role.COORDINATOR, Role.CASE_MANAGER})


class StaffUser(Base):
    __tablename__ = "staff_user"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the login / task assignee id
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    role_rows: Mapped[list[StaffRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)


class StaffRole(Base):
    __tablename__ = "staff_user_role"
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_type(Role), primary_key=True, index=True)


def add_user(session: Session, user_id: str, name: str, roles: Iterable[Role], at: datetime,
             email: str | None = None, phone: str | None = None) -> StaffUser:
    user = StaffUser(id=user_id, name=name, email=email, phone=phone, active=True, created_at=at,
                     role_rows=[StaffRole(role=r) for r in set(roles)])
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: str) -> StaffUser:
    return get_or_raise(session, StaffUser, user_id, "staff user")


def users_with_role(session: Session, role: Role, active_only: bool = True) -> list[StaffUser]:
    query = select(StaffUser).join(StaffRole).where(StaffRole.role == role).order_by(StaffUser.name)
    if active_only:
        query = query.where(StaffUser.active.is_(True))
    return list(session.scalars(query))
