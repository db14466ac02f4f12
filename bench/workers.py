"""Job throughput: N external jobs, each advancing a case, done by worker processes on PostgreSQL.

    python bench/workers.py [--jobs 10000] [--workers 2] [--concurrency 2] [--batch 50]
                            [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

A throw-away database is created (the admin URL comes from --postgres or POLKU_BENCH_POSTGRES) and
dropped at the end. The process is start -> service task (topic "bench") -> user task -> end, so
each completed job visibly moves its case on to the user task. The cases are set up before the
clock starts: one is started through the engine, the others are copies of its rows with fresh ids
(bulk inserts; starting 10,000 cases one by one would take longer than the run being measured).

The clock runs from launching `polku worker --topics bench` (handler: bench/handlers.py) until the
job table is empty; the workers are then stopped with SIGTERM. Prints figures; the LAST line is JSON
{"jobs", "workers", "seconds", "jobs_per_s", "p50_latency_ms", ...}. The latency of a job is from
its lock to the commit of its completion. No assertion is made on the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine.db import Database  # noqa: E402
from engine.models import Case, HistoryEvent, Job  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from polku.migrate import upgrade  # noqa: E402
from tests.diagrams import chain, process  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCK_S = 30.0  # the Runner's default lock duration, which `polku worker` uses
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEMPLATE_KEY = "bench-000000"
CHUNK = 2000
POLL_S = 0.1  # counting the job table is a scan: polled more often it takes CPU from the run measured

DIAGRAM = process("bench", (
    '<bpmn:startEvent id="start"/>'
    '<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="bench"/>'
    '<bpmn:userTask id="review" name="Review"/><bpmn:endEvent id="end"/>'
    + chain("start", "work", "review", "end")))


def create_database(admin_url: str) -> tuple[str, str]:
    """A new empty database next to the admin one: (its URL, its name)."""
    name = f"polku_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rsplit('/', 1)[0]}/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _renamed(value: Any, ids: dict[str, str], key: str) -> Any:
    """`value` with every uuid swapped for this copy's own and the template business key for `key`."""
    if not isinstance(value, str):
        return value
    value = UUID_RE.sub(lambda m: ids.setdefault(m.group(0), str(uuid.uuid4())), value)
    return value.replace(TEMPLATE_KEY, key)


def start_cases(url: str, count: int) -> None:
    """`count` cases waiting at the job: one started by the engine, the rest copied from its rows."""
    db = Database(url)
    try:
        engine = Engine(db)
        engine.deploy({"bench.bpmn": DIAGRAM}, name="bench")
        case_id = engine.start("bench", TEMPLATE_KEY, {"n": 0}, actor="bench")
        tables = {model: model.__table__ for model in (Case, Job, HistoryEvent)}
        with db.transaction() as session:
            conn = session.connection()
            template = {model: [dict(row._mapping) for row in conn.execute(
                select(table).where(table.c.case_id == case_id) if model is not Case
                else select(table).where(table.c.id == case_id))]
                for model, table in tables.items()}
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


def job_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM job").fetchone()
    return int(row[0]) if row else 0


def latencies_ms(conn: psycopg.Connection[Any]) -> list[float]:
    """Per job: from its lock (expiry minus the lock duration) to the completion's commit time."""
    rows = conn.execute("SELECT c.variables, h.ended_at FROM \"case\" c JOIN history_event h ON h.case_id = c.id "
                        "WHERE h.element_id = 'work' AND h.state = 'completed'").fetchall()
    out = []
    for variables, ended in rows:
        expires = (variables or {}).get("benchLockExpires")
        if expires is not None and isinstance(ended, datetime):
            out.append((ended.timestamp() - (expires - LOCK_S)) * 1000)
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a local process so far (Linux /proc); None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu(conn: psycopg.Connection[Any], procs: list[subprocess.Popen[bytes]]) -> tuple[float, float] | None:
    """CPU seconds used by the worker processes and by their PostgreSQL backends (not this poller's)."""
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()").fetchall()
    workers = [cpu_seconds(p.pid) for p in procs]
    backends = [cpu_seconds(int(pid)) for (pid,) in rows]
    if None in workers or None in backends:
        return None  # a remote server, or no /proc
    return sum(w or 0.0 for w in workers), sum(b or 0.0 for b in backends)


def run_workers(url: str, jobs: int, workers: int, concurrency: int, batch: int, timeout: float,
                log_dir: Path) -> dict[str, Any]:
    env = {**os.environ, "POLKU_DATABASE_URL": url, "POLKU_HANDLER_MODULES": "bench.handlers",
           "POLKU_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    command = [sys.executable, "-m", "polku.cli", "worker", "--topics", "bench", "--concurrency", str(concurrency),
               "--batch", str(batch), "--grace", "5"]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [log_dir / f"worker-{n}.log" for n in range(workers)]
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        first_done: float | None = None
        first_left, first_cpu = jobs, None
        try:
            for path in logs:
                with path.open("wb") as out:
                    procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
            while True:
                left = job_count(conn)
                now = time.perf_counter()
                if first_done is None and left < jobs:
                    first_done, first_left, first_cpu = now - start, left, busy_cpu(conn, procs)
                if left == 0:
                    break
                if now - start > timeout or any(p.poll() is not None for p in procs):
                    for path in logs:
                        print(f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-20:]), file=sys.stderr)
                    raise SystemExit(f"{left} of {jobs} jobs left after {now - start:.1f} s; workers stopped")
                time.sleep(POLL_S)
            seconds = time.perf_counter() - start
            cpu = busy_cpu(conn, procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        advanced = conn.execute("SELECT count(*) FROM task WHERE element_id = 'review' AND status = 'open'"
                                ).fetchone()
        incidents = conn.execute("SELECT count(*) FROM incident").fetchone()
        latency = latencies_ms(conn)
    result: dict[str, Any] = {
        "jobs": jobs, "workers": workers, "seconds": round(seconds, 3), "jobs_per_s": round(jobs / seconds, 1),
        "p50_latency_ms": round(statistics.median(latency), 1) if latency else None,
        "concurrency": concurrency, "batch": batch, "first_job_s": round(first_done or seconds, 3),
        "advanced": int(advanced[0]) if advanced else 0, "incidents": int(incidents[0]) if incidents else 0,
    }
    if first_done is not None and first_left > 0 and seconds > first_done:
        # from the first completion on: the workers' start-up (imports, migration check) left out
        result["steady_jobs_per_s"] = round(first_left / (seconds - first_done), 1)
    if cpu is not None and first_cpu is not None and first_left > 0:
        # less noisy than the wall time on a shared machine: what each job cost in CPU, start-up left out
        result["worker_cpu_ms_per_job"] = round((cpu[0] - first_cpu[0]) / first_left * 1000, 3)
        result["postgres_cpu_ms_per_job"] = round((cpu[1] - first_cpu[1]) / first_left * 1000, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="handler threads per worker")
    parser.add_argument("--batch", type=int, default=50, help="jobs fetched at once")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("POLKU_BENCH_POSTGRES", DEFAULT_ADMIN_URL),
                        help="admin URL of the PostgreSQL server (a throw-away database is made next to it)")
    args = parser.parse_args()
    if args.jobs < 1 or args.workers < 1:
        parser.error("--jobs and --workers must be >= 1")

    url, name = create_database(args.postgres)
    try:
        upgrade(url)
        begin = time.perf_counter()
        start_cases(url, args.jobs)
        print(f"set up {args.jobs} cases waiting at the job in {time.perf_counter() - begin:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            result = run_workers(url, args.jobs, args.workers, args.concurrency, args.batch, args.timeout, Path(tmp))
    finally:
        drop_database(args.postgres, name)
    print(f"{result['jobs']} jobs by {result['workers']} workers (concurrency {result['concurrency']}, batch "
          f"{result['batch']}): {result['seconds']} s, {result['jobs_per_s']} jobs/s, p50 latency "
          f"{result['p50_latency_ms']} ms; first job done after {result['first_job_s']} s; "
          f"{result['advanced']} cases at the user task, {result['incidents']} incidents")
    if "worker_cpu_ms_per_job" in result:
        print(f"CPU per job after the first: workers {result['worker_cpu_ms_per_job']} ms, PostgreSQL backends "
              f"{result['postgres_cpu_ms_per_job']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
