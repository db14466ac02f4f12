"""Latency of one persisted user-task transition, against stock SpiffWorkflow in memory.

    python bench/transition.py [--transitions 300] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

The measured step is `Engine.complete_task` on a case whose next user task comes right after
(review -> approve -> back to review): lock and load the case, complete the task, run the engine
steps, prune, save the state and projections, commit. The floor, measured in the same run, is
the same step done by stock SpiffWorkflow without a database: `deserialize_json` of the stock
serialized workflow (spec included, as stock does it; stock `BpmnParser` on a plain-Python-condition
copy of the diagram), complete the user task, `do_engine_steps()`, `serialize_json`. The stock
workflow is restored every time from one snapshot taken after a single pass of the loop (about
as many tasks as Polku's pruned state holds), so the floor stays low: it does not rise as stock's
unpruned task tree would grow. The two steps alternate, so both see the same machine load.

Prints figures; the LAST line is JSON {"p50_ms", "baseline_p50_ms", "ratio"} (SQLite), plus
"postgres_p50_ms" and "postgres_ratio" with --postgres. No assertion is made on the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.parser import BpmnParser  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine.db import Database  # noqa: E402
from engine.models import Case  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from polku.migrate import upgrade  # noqa: E402
from tests.diagrams import chain, flow, process  # noqa: E402

WARMUP = 30
STOCK_SNAPSHOT_AFTER = 2  # transitions: one pass of review -> approve


def diagram(condition: str) -> bytes:
    return process("approval", (
        '<bpmn:startEvent id="start"/>'
        '<bpmn:userTask id="review" name="Review"/><bpmn:userTask id="approve" name="Approve"/>'
        '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
        + chain("start", "review", "approve", "gw")
        + flow("again", "gw", "review", condition.format("continue"))
        + flow("done", "gw", "end", condition.format("close"))))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class PolkuCase:
    """A case of the approval loop on a persisted engine; `step` times one complete_task."""

    def __init__(self, url: str) -> None:
        upgrade(url)
        self.db = Database(url)
        self.engine = Engine(self.db)
        self.engine.deploy({"approval.bpmn": diagram("${{decision == '{}'}}")})
        self.case_id = self.engine.start("approval", "bench", {"decision": "continue", "n": 0})

    def step(self, i: int) -> float:
        task_id = self.engine.open_tasks(self.case_id)[0].id  # the inbox query is not part of the transition
        start = time.perf_counter()
        self.engine.complete_task(task_id, {"decision": "continue", "n": i}, actor="bench")
        return (time.perf_counter() - start) * 1000

    def state_bytes(self) -> int:
        with self.db.transaction() as session:
            return len(session.get(Case, self.case_id).state)

    def close(self) -> None:
        self.db.dispose()


class StockCase:
    """The same step by stock SpiffWorkflow in memory, from one serialized snapshot each time."""

    def __init__(self) -> None:
        parser = BpmnParser()
        parser.add_bpmn_xml(etree.fromstring(diagram("decision == '{}'")), filename="approval.bpmn")
        self.serializer = BpmnWorkflowSerializer()
        workflow = BpmnWorkflow(parser.get_spec("approval"))
        workflow.do_engine_steps()
        for i in range(STOCK_SNAPSHOT_AFTER):
            _stock_step(workflow, i)
        self.tasks = len(workflow.tasks)
        self.snapshot = self.serializer.serialize_json(workflow)

    def step(self, i: int) -> float:
        start = time.perf_counter()
        restored = self.serializer.deserialize_json(self.snapshot)
        _stock_step(restored, i)
        self.serializer.serialize_json(restored)
        return (time.perf_counter() - start) * 1000


def _stock_step(workflow: Any, i: int) -> None:
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    task.set_data(decision="continue", n=i)
    task.run()
    workflow.do_engine_steps()


def interleaved(polku: PolkuCase, stock: StockCase, count: int) -> tuple[list[float], list[float]]:
    """Alternate the two steps, so both see the same machine load; the first WARMUP are not kept."""
    polku_ms: list[float] = []
    stock_ms: list[float] = []
    for i in range(WARMUP + count):
        s, p = stock.step(i), polku.step(i)
        if i >= WARMUP:
            stock_ms.append(s)
            polku_ms.append(p)
    return polku_ms, stock_ms


def postgres_database(admin_url: str) -> tuple[str, Any]:
    import psycopg

    name = f"polku_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop


def describe(label: str, timings: list[float]) -> str:
    return (f"{label}: p50 {statistics.median(timings):.2f} ms, p90 {percentile(timings, 0.9):.2f} ms, "
            f"p99 {percentile(timings, 0.99):.2f} ms, mean {statistics.fmean(timings):.2f} ms over {len(timings)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=300)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL (an admin URL)")
    args = parser.parse_args()
    gc.collect()

    stock = StockCase()
    with tempfile.TemporaryDirectory() as tmp:
        polku = PolkuCase(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            sqlite, stock_ms = interleaved(polku, stock, args.transitions)
            state_bytes = polku.state_bytes()
        finally:
            polku.close()
    print(describe("stock SpiffWorkflow in memory (deserialize, complete, steps, serialize)", stock_ms))
    print(f"  stock snapshot: {stock.tasks} tasks, {len(stock.snapshot)} bytes (spec included)")
    print(describe("polku complete_task on SQLite (file, WAL)", sqlite))
    print(f"  polku case state after {WARMUP + args.transitions} transitions: {state_bytes} bytes (no spec)")
    p50, base = statistics.median(sqlite), statistics.median(stock_ms)
    result: dict[str, Any] = {"p50_ms": round(p50, 3), "baseline_p50_ms": round(base, 3), "ratio": round(p50 / base, 2)}

    if args.postgres:
        url, drop = postgres_database(args.postgres)
        try:
            polku = PolkuCase(url)
            try:
                pg, pg_stock = interleaved(polku, stock, args.transitions)
            finally:
                polku.close()
        finally:
            drop()
        print(describe("polku complete_task on PostgreSQL", pg))
        print(describe("  stock, interleaved with the PostgreSQL run", pg_stock))
        result["postgres_p50_ms"] = round(statistics.median(pg), 3)
        result["postgres_ratio"] = round(statistics.median(pg) / statistics.median(pg_stock), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
