"""Loading (locked) and saving a case row, with statements built once.

Every case action does both, so they skip per-call statement building and the ORM's bulk-update
bookkeeping: the row is loaded as an ORM object (callers read and set its attributes) and saved
with one Core UPDATE guarded by the version the action started from; the object is then brought
up to date without marking it changed, so committing does not write it again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.models import Case, table_of

_CASE = table_of(Case)
_SAVED = ("state", "state_format", "spiff_version", "version", "variables", "waiting", "updated_at", "status",
          "ended_at")

_LOAD_LOCKED = select(Case).where(Case.id == bindparam("case_id")).with_for_update()
_SAVE = (update(_CASE).where(_CASE.c.id == bindparam("b_id"), _CASE.c.version == bindparam("b_version"))
         .values({name: bindparam(f"v_{name}") for name in _SAVED}))


def load_locked(session: Session, case_id: str) -> Case | None:
    """The case row, locked for this transaction (FOR UPDATE; SQLite holds the write lock already)."""
    return session.execute(_LOAD_LOCKED, {"case_id": case_id}).scalar_one_or_none()


def save(session: Session, case: Case, values: dict[str, Any]) -> bool:
    """Write the saved columns if the row still has the case's version; False when someone else changed it."""
    if set(values) != set(_SAVED):
        raise ValueError(f"case save needs exactly {_SAVED}, got {sorted(values)}")
    if session.new or session.dirty or session.deleted:
        session.flush()  # pending changes (e.g. a status set by the action) go first
    params = {f"v_{name}": value for name, value in values.items()}
    params["b_id"], params["b_version"] = case.id, case.version
    if session.connection().execute(_SAVE, params).rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(case, name, value)
    return True
