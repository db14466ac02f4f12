"""Finding a case: by case number, by the client's name, or by the identity code (exact, through its keyed
search hash: the code itself never reaches SQL, a URL or a log), among the cases the searcher may open.

`casework.case_access.visible_cases_clause` restricts every search, so a search never tells anyone that
a case they may not open exists. The caller logs the listed cases (one row each, one INSERT).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from casework.case_access import visible_cases_clause
from casework.case_manager import Assignment
from casework.client import Client
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys, validation_error
from casework.staff import Staff
from engine.models import Case

MAX_QUERY = 100
MIN_NAME = 2
LIMIT = 50
# A case number: letters, digits and dashes with at least one digit (DEMO-001, TKT-000123, REF-7); a name has
# no digit, and an identity code is recognised first by its checksum.
CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$")
# The shape of an identity code (DDMMYY, century sign, individual number, check character): one that fails
# its checksum is a mistyped code, never a case number (it would otherwise end up in a URL).
CODE_SHAPE = re.compile(r"^\d{6}[-+A-FU-Y]\d{3}[0-9A-Z]$", re.IGNORECASE)


class QueryKind(enum.Enum):
    CASE_NUMBER = "case_number"
    IDENTITY_CODE = "identity_code"
    NAME = "name"


class SearchProblem(enum.Enum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"  # a name needs at least MIN_NAME letters
    NO_KEYS = "no_keys"  # an identity code, but no key to hash it with here
    INVALID_CODE = "invalid_code"  # shaped like an identity code, but the check character does not match


@dataclass(frozen=True)
class CaseQuery:
    """A search as it is run: the kind and its value (an identity code only as its search hash)."""

    kind: QueryKind
    value: str

    @property
    def in_url_allowed(self) -> bool:
        """Only a case number may travel in a query string; a name or identity code is personal data."""
        return self.kind is QueryKind.CASE_NUMBER


@dataclass(frozen=True)
class CaseHit:
    case_id: str
    business_key: str
    client_name: str
    status: str
    case_manager: str | None
    opened_at: datetime


def is_case_number(text: str) -> bool:
    return bool(CASE_NUMBER.match(text)) and any(c.isdigit() for c in text)


def parse_query(text: str | None, keys: IdentityCodeKeys | None) -> CaseQuery | SearchProblem:
    """What the person typed, as a query: an identity code (valid checksum) becomes its hash at once."""
    text = " ".join((text or "").split())
    if not text:
        return SearchProblem.EMPTY
    if len(text) > MAX_QUERY:
        return SearchProblem.TOO_LONG
    if validation_error(text) is None:
        if keys is None:
            return SearchProblem.NO_KEYS
        return CaseQuery(QueryKind.IDENTITY_CODE, keys.search_hash(text))
    if CODE_SHAPE.match(text.replace(" ", "")):
        return SearchProblem.INVALID_CODE
    if is_case_number(text):
        return CaseQuery(QueryKind.CASE_NUMBER, text)
    if len(text) < MIN_NAME:
        return SearchProblem.TOO_SHORT
    return CaseQuery(QueryKind.NAME, text)


def search_cases(session: Session, staff: Staff, query: CaseQuery, limit: int = LIMIT) -> list[CaseHit]:
    """The cases matching `query` that `staff` may open, open ones first, then the newest."""
    manager = aliased(Assignment)  # not the Assignment the access clause's EXISTS correlates with
    current = and_(manager.case_id == ClientCase.case_id, manager.to_at.is_(None))
    statement = (select(ClientCase.case_id, Case.business_key, Client.name, ClientCase.status,
                        manager.user_name, ClientCase.opened_at)
                 .join(Case, Case.id == ClientCase.case_id)
                 .join(Client, Client.id == ClientCase.client_id)
                 .outerjoin(manager, current)
                 .where(visible_cases_clause(staff)))
    if query.kind is QueryKind.CASE_NUMBER:
        # as typed or in capitals (an index lookup each; case numbers are written in capitals)
        statement = statement.where(Case.business_key.in_(sorted({query.value, query.value.upper()})))
    elif query.kind is QueryKind.IDENTITY_CODE:
        statement = statement.where(Client.identity_code_hash == query.value)
    else:
        words = [w for w in query.value.split() if w]
        for word in words:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(Client.name.ilike(pattern, escape="\\"))
    statement = statement.order_by(ClientCase.status.desc(), ClientCase.opened_at.desc(),
                                   ClientCase.case_id).limit(limit)
    return [CaseHit(r.case_id, r.business_key or r.case_id, r.name, r.status.value, r.user_name,
                    r.opened_at) for r in session.execute(statement).all()]
