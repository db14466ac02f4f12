"""Timer throughput: N due timers fired by `polku scheduler` processes on PostgreSQL, each exactly once.

    python bench/timers.py [--timers 10000] [--schedulers 2] [--interval 1]
                           [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

A throw-away database is created (admin URL from --postgres or POLKU_BENCH_POSTGRES) and dropped at
the end. Each case waits at a user task with a non-interrupting `R2/PT1H` boundary timer leading to an
external task. The cases are set up before the clock starts, 90 minutes in the past (a fixed clock):
the first occurrence of every timer is due, the second (the same timer row, rewritten) is due in 30
minutes and must not fire. One case is started through the engine, the others are copies of its rows
with fresh ids (bulk inserts), then ANALYZE (see start_cases).

The clock runs from launching the schedulers until no timer is due. Then the history table is checked:
every case started exactly one external task, has exactly one job row, and its timer waits for the
second occurrence. Prints figures and the check; the LAST line is JSON {"timers", "fired", "seconds",
"per_s", ...}. Exits 1 when the check fails (never on the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Table, select  # noqa: E402

from bench.workers import (  # noqa: E402
    DEFAULT_ADMIN_URL,
    TEMPLATE_KEY,
    _renamed,
    busy_cpu,
    create_database,
    drop_database,
)
from engine.db import Database  # noqa: E402
from engine.models import Case, HistoryEvent, Job, Task, TaskCandidate, Timer  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from polku.migrate import upgrade  # noqa: E402
from tests.diagrams import chain, process  # noqa: E402

CHUNK = 2000
POLL_S = 0.1
FIRED_LOG = re.compile(r"fired (\d+) timers")

DIAGRAM = process("bench_timer", (
    '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:endEvent id="end"/>'
    '<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
    '<bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>'
    '</bpmn:boundaryEvent>'
    '<bpmn:serviceTask id="notify" camunda:type="external" camunda:topic="bench"/><bpmn:endEvent id="reminded"/>'
    + chain("start", "review", "end") + chain("remind", "notify", "reminded")))


def start_cases(url: str, count: int, started: datetime) -> None:
    """`count` cases started at `started`: one through the engine, the rest copied from its rows."""
    db = Database(url)
    try:
        engine = Engine(db, clock=lambda: started)
        engine.deploy({"bench_timer.bpmn": DIAGRAM}, name="bench")
        case_id = engine.start("bench_timer", TEMPLATE_KEY, actor="bench")
        tables = {model: cast(Table, model.__table__) for model in (Case, Task, Timer, HistoryEvent)}
        with db.transaction() as session:
            conn = session.connection()
            template = {model: [dict(row._mapping) for row in conn.execute(
                select(table).where(table.c.case_id == case_id) if model is not Case
                else select(table).where(table.c.id == case_id))]
                for model, table in tables.items()}
            extra = [*conn.execute(select(TaskCandidate.__table__)), *conn.execute(select(Job.__table__))]
        if extra or len(template[Timer]) != 1:
            raise SystemExit("the template case does not have the expected shape (one timer, no jobs or candidates)")
        for row in template[HistoryEvent]:
            del row["id"]
        for first in range(1, count, CHUNK):
            copies: dict[Any, list[dict[str, Any]]] = {model: [] for model in tables}
            for i in range(first, min(first + CHUNK, count)):
                ids: dict[str, str] = {}
                key = f"bench-{i:06d}"
                for model, rows in template.items():
                    copies[model] += [{k: _renamed(v, ids, key) for k, v in row.items()} for row in rows]
            with db.transaction() as session:
                conn = session.connection()
                for model, table in tables.items():  # parents first
                    conn.execute(table.insert(), copies[model])
    finally:
        db.dispose()
    with psycopg.connect(url, autocommit=True) as admin:
        # planner statistics, as autovacuum keeps them on a live database: without them the claim of the next
        # due case is planned for empty tables and scans them all (~60 ms a claim at 10,000 cases, not ~0.1 ms)
        admin.execute("ANALYZE")


def due_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM timer WHERE due_at <= now()").fetchone()
    return int(row[0]) if row else 0


def run_schedulers(url: str, timers: int, schedulers: int, interval: float, timeout: float, log_dir: Path
                   ) -> dict[str, Any]:
    """Seconds from launch until nothing is due, how many timers each scheduler says it fired, CPU per timer."""
    env = {**os.environ, "POLKU_DATABASE_URL": url,
           "POLKU_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    command = [sys.executable, "-m", "polku.cli", "scheduler", "--interval", str(interval)]
    logs = [log_dir / f"scheduler-{n}.log" for n in range(schedulers)]
    procs: list[subprocess.Popen[bytes]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        first_left, first_cpu = timers, None
        try:
            for path in logs:
                with path.open("wb") as out:
                    procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
            while True:
                left = due_count(conn)
                now = time.perf_counter()
                if first_cpu is None and left < timers:
                    first_left, first_cpu = left, busy_cpu(conn, procs)  # start-up (imports) left out
                if left == 0:
                    break
                if now - start > timeout or any(p.poll() is not None for p in procs):
                    for path in logs:
                        print(f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-20:]), file=sys.stderr)
                    raise SystemExit(f"{left} of {timers} timers still due after {now - start:.1f} s")
                time.sleep(POLL_S)
            seconds = time.perf_counter() - start
            cpu = busy_cpu(conn, procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    result: dict[str, Any] = {"seconds": seconds,
                              "shares": [sum(int(n) for n in FIRED_LOG.findall(path.read_text())) for path in logs]}
    if cpu is not None and first_cpu is not None and first_left > 0:
        # less noisy than the wall time on a shared machine: what each timer cost in CPU
        result["scheduler_cpu_ms_per_timer"] = round((cpu[0] - first_cpu[0]) / first_left * 1000, 2)
        result["postgres_cpu_ms_per_timer"] = round((cpu[1] - first_cpu[1]) / first_left * 1000, 2)
    return result


def check(url: str, timers: int, next_due: datetime) -> dict[str, int]:
    """Counts of what went wrong (all zero when each timer fired exactly once), from history and projections."""
    with psycopg.connect(url, autocommit=True) as conn:
        def one(sql: str, *params: Any) -> int:
            row = conn.execute(sql, params).fetchone()
            return int(row[0]) if row else 0

        return {
            "cases": one('SELECT count(*) FROM "case"'),
            "fired": one("SELECT count(*) FROM history_event WHERE element_id = 'notify'"),
            "not_once": one('SELECT count(*) FROM "case" c WHERE (SELECT count(*) FROM history_event h '
                            "WHERE h.case_id = c.id AND h.element_id = 'notify') <> 1"),
            "without_one_job": one('SELECT count(*) FROM "case" c WHERE (SELECT count(*) FROM job j '
                                   "WHERE j.case_id = c.id) <> 1"),
            "timer_not_next": one("SELECT count(*) FROM timer WHERE due_at <> %s", next_due)
                              + abs(timers - one("SELECT count(*) FROM timer")),
            "incidents": one("SELECT count(*) FROM incident"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--schedulers", type=int, default=2, help="`polku scheduler` processes")
    parser.add_argument("--interval", type=float, default=1.0, help="the schedulers' --interval")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("POLKU_BENCH_POSTGRES", DEFAULT_ADMIN_URL),
                        help="admin URL of the PostgreSQL server (a throw-away database is made next to it)")
    args = parser.parse_args()
    if args.timers < 1 or args.schedulers < 1:
        parser.error("--timers and --schedulers must be >= 1")

    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
    url, name = create_database(args.postgres)
    try:
        upgrade(url)
        begin = time.perf_counter()
        start_cases(url, args.timers, started)
        print(f"set up {args.timers} cases with a due timer in {time.perf_counter() - begin:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            run = run_schedulers(url, args.timers, args.schedulers, args.interval, args.timeout, Path(tmp))
        found = check(url, args.timers, started + timedelta(hours=2))
    finally:
        drop_database(args.postgres, name)
    problems = {k: v for k, v in found.items() if k in ("not_once", "without_one_job", "timer_not_next") and v}
    ok = not problems and found["cases"] == found["fired"] == args.timers and found["incidents"] == 0
    seconds = run.pop("seconds")
    shares = run.pop("shares")
    print(f"{args.timers} timers by {args.schedulers} schedulers: {seconds:.1f} s, {args.timers / seconds:.0f}/s; "
          f"fired per scheduler {shares}; CPU per timer {run or 'not measured'}")
    print(f"check: {'each timer fired exactly once' if ok else 'VIOLATED'} ({found})")
    print(json.dumps({"timers": args.timers, "fired": found["fired"], "seconds": round(seconds, 3),
                      "per_s": round(args.timers / seconds, 1), "schedulers": args.schedulers,
                      "fired_per_scheduler": shares, "exactly_once": ok, **run}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
