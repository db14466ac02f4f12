"""The job handler bench/workers.py runs: `polku worker` imports it through POLKU_HANDLER_MODULES=bench.handlers.

It does no work of its own, so the benchmark measures the engine and the worker loop. It hands back
when its lock expires, so the benchmark can tell each job's latency (locked -> completion committed).
"""

from __future__ import annotations

from typing import Any

from workers.handler import JobContext, handler


@handler("bench")
def bench(ctx: JobContext) -> dict[str, Any]:
    """Advance the case; the variable carries the lock's expiry (as epoch seconds) for the latency figure."""
    expires = ctx.lock_expires_at.timestamp() if ctx.lock_expires_at is not None else None
    return {"benchLockExpires": expires}
