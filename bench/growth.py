"""Saved-state growth of a follow-up loop case: bytes of Case.state after 1 cycle and after N cycles.

    python bench/growth.py [--cycles 1000]

The loop is review (user task) -> notify (external job) -> gateway back to review, run on the
persisted engine (SQLite file in a temporary directory): every action reloads the case. Prints
figures; the LAST line is JSON {"cycles", "bytes_1", "bytes_n", "ratio"}. No assertion is made.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from engine.db import Database  # noqa: E402
from engine.jobs import TopicRequest  # noqa: E402
from engine.models import Case  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from polku.migrate import upgrade  # noqa: E402
from tests.diagrams import chain, flow, process  # noqa: E402

FOLLOW_UP = process("follow_up", (
    '<bpmn:startEvent id="start"/>'
    '<bpmn:userTask id="review" name="Review" camunda:candidateGroups="coordinators"/>'
    '<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="notify"/>'
    '<bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
    + chain("start", "review", "notify", "gw") + flow("again", "gw", "review", "${decision == 'continue'}")
    + flow("done", "gw", "end", "${decision == 'close'}")))


def state_bytes(engine: Engine, case_id: str) -> int:
    with engine.db.transaction() as session:
        return len(session.execute(select(Case.state).where(Case.id == case_id)).scalar_one())


def cycle(engine: Engine, case_id: str, i: int) -> None:
    task = engine.open_tasks(case_id)[0]
    engine.complete_task(task.id, {"decision": "continue", "note": f"follow-up {i}"}, actor="coordinator")
    (job,) = engine.fetch_and_lock("worker", [TopicRequest("notify")], max_jobs=1)
    engine.complete_job(job.id, "worker", {"count": i + 1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args()
    marks = sorted({1, 10, 100, args.cycles // 2, args.cycles} - {0})
    sizes: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'growth.db'}"
        upgrade(url)
        db = Database(url)
        try:
            engine = Engine(db)
            engine.deploy({"follow_up.bpmn": FOLLOW_UP})
            case_id = engine.start("follow_up", "growth", {"count": 0})
            start = time.perf_counter()
            for i in range(args.cycles):
                cycle(engine, case_id, i)
                if i + 1 in marks:
                    sizes[i + 1] = state_bytes(engine, case_id)
                    print(f"after {i + 1:>5} cycles: {sizes[i + 1]:>6} bytes of state")
            elapsed = time.perf_counter() - start
            count = engine.case(case_id)["variables"]["count"]
        finally:
            db.dispose()
    per_cycle = elapsed / args.cycles * 1000
    print(f"{args.cycles} cycles (inbox, complete task, fetch job, complete job) in {elapsed:.1f} s, "
          f"{per_cycle:.1f} ms/cycle; the case's counter reads {count}")
    first, last = sizes[1], sizes[args.cycles]
    print(json.dumps({"cycles": args.cycles, "bytes_1": first, "bytes_n": last, "ratio": round(last / first, 3)}))


if __name__ == "__main__":
    main()
