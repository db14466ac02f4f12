"""The whole casework schema: importing this module registers every casework table on `CaseworkBase.metadata`.

Alembic compares, and tests dump, the complete schema, which must not depend on which casework modules
a caller happened to import first.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from casework import (  # noqa: F401  (each module registers its tables)
    access_log,
    case_manager,
    case_notes,
    client,
    client_case,
    consent,
    evaluation,
    network,
    network_meeting,
    notification,
    plan,
    service_referral,
    staffing,
    step_summary,
    task_comments,
    task_drafts,
    task_filters,
    teams,
    users,
)
from casework.letter import records  # noqa: F401
from casework.models import CaseworkBase

metadata: MetaData = CaseworkBase.metadata
