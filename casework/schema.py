"""The whole casework schema: importing this module registers every casework table on `CaseworkBase.metadata`.

Alembic compares, and tests dump, the complete schema, which must not depend on which casework modules
a caller happened to import first.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from casework import (  # noqa: F401  (each module registers its tables)
    access_log,
    case_manager,
    client,
    client_case,
    consent,
    network,
    notification,
    plan,
    service_referral,
    teams,
    users,
)
from casework.letter import records  # noqa: F401
from casework.models import CaseworkBase

metadata: MetaData = CaseworkBase.metadata
