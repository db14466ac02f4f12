"""Handlers `polku worker` imports in the SIGTERM test (POLKU_HANDLER_MODULES=tests.workers.sample_handlers)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workers.handler import JobContext, handler


@handler("slow")
def slow(job: JobContext) -> dict[str, Any]:
    """Leave a marker that the handler started, then take a while."""
    Path(job.variables["marker_dir"], f"{job.business_key}.started").write_text(job.id)
    time.sleep(float(job.variables.get("sleep", 1.0)))
    return {"slept": True}
