"""Where the case is on its BPMN diagram (bpmn-js in the browser, data from `/cases/<key>/diagram.json`).

Contract with `webapp.cases.views`: `diagram_context` returns the context `cases/_diagram.html` reads.
"""

from __future__ import annotations

from typing import Any

from webapp.cases.access import Opened


def diagram_context(opened: Opened) -> dict[str, Any]:
    """The context of the diagram partial for one case page."""
    return {}
