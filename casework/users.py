"""Staff users, their roles and credentials (argon2 password hashes, API bearer tokens).

The web app decides who may do what; this module only answers "who is this?".
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.errors import Refused, get_or_raise
from casework.models import CaseworkBase, UtcDateTime, enum_type


class Role(enum.Enum):
    COORDINATOR = "coordinator"
    CASE_MANAGER = "case_manager"
    TEAM_LEAD = "team_lead"
    MANAGER = "manager"
    PROCESS_OWNER = "process_owner"
    ADMIN = "admin"
    WORKER = "worker"
    INTEGRATION = "integration"
    PARTNER = "partner"  # a network partner organisation's staff: only the referrals addressed to them


class Unit(enum.Enum):
    """The organisation unit a staff member works in (recorded with their title, e.g. for a case manager)."""

    EMPLOYMENT_SERVICES = "employment_services"
    HEALTH_STATION = "health_station"
    MENTAL_HEALTH_SUBSTANCE_ABUSE = "mental_health_substance_abuse"
    SOCIAL_WORK = "social_work"
    WORK_ABILITY_SERVICES = "work_ability_services"
    OTHER = "other"


MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "polku_"
_hasher = PasswordHasher()
_TOUCH_EVERY = timedelta(minutes=1)  # last_used_at precision: not a write on every request

# Roles whose holders may be named as a client's case manager (a person, never a group).
CASE_MANAGER_ROLES = frozenset({Role.COORDINATOR, Role.CASE_MANAGER})


class StaffUser(CaseworkBase):
    __tablename__ = "staff_user"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the login / task assignee id
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    role_rows: Mapped[list[StaffRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None: no password login
    title: Mapped[str | None] = mapped_column(String(200))  # e.g. "sosiaalityöntekijä", shown with the name
    unit: Mapped[Unit | None] = mapped_column(enum_type(Unit))
    organisation: Mapped[str | None] = mapped_column(String(200))  # a partner's organisation (role partner)
    # A partner account answers for this network partner: it sees only the referrals addressed to it.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id", name="fk_staff_user_partner"))
    language: Mapped[str | None] = mapped_column(String(5))  # fi, sv or en: the pages' language they chose

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    def set_password(self, password: str) -> None:
        """Store an argon2 hash; a short password is refused (it would be guessable offline from the hash)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Refused(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        self.password_hash = _hasher.hash(password)

    def verify_password(self, password: str) -> bool:
        """True when the password matches; an outdated hash is upgraded in place (the caller commits)."""
        if not self.password_hash:
            return False
        try:
            _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if _hasher.check_needs_rehash(self.password_hash):
            self.password_hash = _hasher.hash(password)
        return True


class ApiToken(CaseworkBase):
    """A bearer token for machines (workers, integrations); only its SHA-256 is stored.

    The token is 32 random bytes, so a plain hash suffices: nobody can guess it back from the hash.
    """

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffRole(CaseworkBase):
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


def authenticate_password(session: Session, user_id: str, password: str) -> StaffUser | None:
    """The active user with this password, else None (never says which part was wrong)."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.password_hash:
        password_matches(None, password)
        return None
    if not user.verify_password(password) or not user.active:
        return None
    return user


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password against a stored hash without a session (argon2 takes a while: hold no lock).

    Without a hash a dummy one is checked, so an unknown user costs as much time as a wrong password.
    """
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Checked when the user does not exist, so a wrong user id costs as much time as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user_id: str, at: datetime, label: str | None = None) -> tuple[ApiToken, str]:
    """A new token for the user; the plain token is returned once and never stored."""
    get_user(session, user_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, token_hash=token_hash(token), label=label, created_at=at)
    session.add(row)
    session.flush()
    return row, token


def authenticate_token(session: Session, token: str, at: datetime) -> StaffUser | None:
    """The active user holding this unrevoked token, else None; notes when it was last used."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or at - row.last_used_at >= _TOUCH_EVERY:
        row.last_used_at = at
    return user


def revoke_token(session: Session, token_id: int, at: datetime) -> ApiToken:
    row = get_or_raise(session, ApiToken, token_id, "API token")
    if row.revoked_at is None:
        row.revoked_at = at
    return row


def tokens_of(session: Session, user_id: str) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def all_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))
