"""The plan, network, history and letters parts of the case page, and the actions on them.

Contract with `webapp.cases.views`: `page_sections` returns the template context the partials
`cases/_plan.html`, `cases/_network.html`, `cases/_history.html`, `cases/_letters.html` and
`cases/_actions.html` read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from casework.staff import Staff
from webapp.cases.access import Opened


def page_sections(session: Session, opened: Opened, staff: Staff, now: datetime) -> dict[str, Any]:
    """The context of the section partials for one case page (read in the page's read transaction)."""
    return {}
