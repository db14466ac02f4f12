"""What running Python scripts in a child process costs: per script, and per persisted transition.

    python bench/scripts.py [--runs 300]

Scripts run in a pool of child processes (engine/camunda/script_process.py) under a memory ceiling
and a wall-clock kill. Measured, alternating so both see the same machine load:

- one small script (`total = sum(items) * 2` over 20 numbers) run in this process (`sandbox.run_script`,
  the way scripts ran before) and in a pooled child (`sandbox.execute_script`, the way they run now);
- the first script of a process, which starts a child;
- `Engine.complete_task` on SQLite when a script task follows the user task (review -> calc -> review),
  with the script in a child and, for comparison, in this process.

Prints figures; the LAST line is JSON. No assertion is made on the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.camunda import sandbox, script_process  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from polku.migrate import upgrade  # noqa: E402
from tests.diagrams import chain, flow, process  # noqa: E402

SCRIPT = "total = sum(items) * 2"
VARIABLES: dict[str, Any] = {"items": list(range(20)), "name": "ann", "amount": 1500}
WARMUP = 20


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def in_this_process(script: str, variables: dict[str, Any]) -> dict[str, Any]:
    return sandbox.run_script(script, variables)


def loop_with_script() -> bytes:
    return process("scripted", (
        '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>'
        f'<bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>{SCRIPT}</bpmn:script></bpmn:scriptTask>'
        '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
        + chain("start", "review", "calc", "gw")
        + flow("again", "gw", "review", "${n >= 0}") + flow("done", "gw", "end", "${n &lt; 0}")))


def step(engine: Engine, case_id: str, i: int) -> float:
    task_id = engine.open_tasks(case_id)[0].id  # the inbox query is not part of the transition
    data = {"n": i, "items": list(range(20))}
    start = time.perf_counter()
    engine.complete_task(task_id, data, actor="bench")
    return (time.perf_counter() - start) * 1000


def transitions(engine: Engine, pooled_case: str, local_case: str, count: int) -> tuple[list[float], list[float]]:
    """Alternate a step of each case (which goes first alternates too), so both see the same load.

    The local case runs its script in this process, as scripts ran before.
    """
    pooled: list[float] = []
    local: list[float] = []
    real = sandbox.execute_script
    for i in range(WARMUP + count):
        if i % 2:
            p = step(engine, pooled_case, i)
        sandbox.execute_script = in_this_process  # the way scripts ran before, for comparison
        try:
            h = step(engine, local_case, i)
        finally:
            sandbox.execute_script = real
        if not i % 2:
            p = step(engine, pooled_case, i)
        if i >= WARMUP:
            pooled.append(p)
            local.append(h)
    return pooled, local


def describe(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{label}: p50 {statistics.median(timings):.3f} ms, p90 {p90:.3f} ms over {len(timings)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    script_process.run("x = 1", {}, steps=1000, seconds=2.0)  # start one child, then close it
    script_process._pool.close()
    first = timed(lambda: sandbox.execute_script(SCRIPT, VARIABLES))

    here: list[float] = []
    child: list[float] = []
    for i in range(WARMUP + args.runs):
        h = timed(lambda: in_this_process(SCRIPT, VARIABLES))
        c = timed(lambda: sandbox.execute_script(SCRIPT, VARIABLES))
        if i >= WARMUP:
            here.append(h)
            child.append(c)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        try:
            engine = Engine(db)
            engine.deploy({"scripted.bpmn": loop_with_script()})
            pooled_case = engine.start("scripted", "pooled", {"n": 0, "items": []})
            local_case = engine.start("scripted", "local", {"n": 0, "items": []})
            pooled, local = transitions(engine, pooled_case, local_case, args.runs)
        finally:
            db.dispose()

    print(f"first script of a process (starts a child): {first:.1f} ms")
    print(describe("script in this process (sandbox.run_script)", here))
    print(describe("script in a pooled child (sandbox.execute_script)", child))
    print(describe("complete_task + script task, script in this process", local))
    print(describe("complete_task + script task, script in a pooled child", pooled))
    result = {
        "first_script_ms": round(first, 1),
        "script_here_p50_ms": round(statistics.median(here), 3),
        "script_child_p50_ms": round(statistics.median(child), 3),
        "transition_script_here_p50_ms": round(statistics.median(local), 3),
        "transition_script_child_p50_ms": round(statistics.median(pooled), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
