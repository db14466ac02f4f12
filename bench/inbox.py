"""The inbox at county scale: a coordinator's inbox page and the JSON task list under 20 concurrent users.

    python bench/inbox.py [--cases 20000] [--tasks-per-case 3] [--history 2000000] [--users 20]
                          [--seconds 20] [--think-ms 1000] [--keep]

Seeds a throw-away PostgreSQL database (POLKU_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/postgres
as the admin connection) with staff in teams, clients, active cases with a current case manager, open
tasks (most assigned to the case's manager, some offered to the process's candidate groups) and
history rows, in bulk with COPY (not through the engine). Then serves the app with gunicorn on a free
port (4 processes x 2 threads) and lets `--users` threads, each signed in as its own coordinator, load
`/inbox` and `/inbox.json` in turn with a think time between requests (a person, not a load generator;
`--think-ms 0` saturates).
The LAST lines are JSON, one per endpoint: {"endpoint", "p50_ms", "p95_ms", "users", "requests"}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("POLKU_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-inbox-secret-key-not-for-production"
PASSWORD = "bench inbox password"
STEPS = [("mapping", "Needs mapping"), ("decision", "Coordinator decision"), ("plan", "Work ability support plan"),
         ("coordinate", "Coordinate a service"), ("followUp", "Follow-up review"), ("handover", "Handover")]
TEAMS = 15
STAFF_PER_TEAM = 20  # 1 team lead, 14 coordinators, 5 case managers
FIRST = ["Testi", "Malli", "Esimerkki", "Demo", "Kuvitteellinen", "Harjoitus", "Koe", "Keksitty"]
LAST = ["Aaltonen", "Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Laine", "Heikkinen", "Järvinen", "Lehtonen",
        "Saarinen", "Salminen", "Heinonen", "Niemi", "Heikkilä", "Kinnunen", "Salonen", "Turunen", "Tuominen"]


def diagram() -> bytes:
    from tests.diagrams import chain, process

    body = '<bpmn:startEvent id="start"/>' + "".join(
        f'<bpmn:userTask id="{i}" name="{n}" camunda:candidateGroups="coordinators"/>' for i, n in STEPS)
    return process("work_ability_support", body + '<bpmn:endEvent id="end"/>'
                   + chain("start", *[i for i, _ in STEPS], "end"))


@contextmanager
def throwaway_database(keep: bool) -> Iterator[str]:
    import psycopg

    name = f"polku_bench_inbox_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {url}", file=sys.stderr)
        else:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_rows(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed(url: str, cases: int, tasks_per_case: int, history: int) -> dict[str, Any]:
    """Bulk rows; returns the coordinators who sign in and what was written."""
    import psycopg
    from argon2 import PasswordHasher

    from casework.identity_code import IdentityCodeKeys, fictitious_code, parse
    from engine.db import Database
    from engine.runtime import Engine
    from polku.migrate import upgrade

    started = time.monotonic()
    upgrade(url)
    database = Database(url)
    engine = Engine(database)
    engine.deploy({"work_ability_support.bpmn": diagram()})
    definition_id = engine.definitions.latest("work_ability_support").id
    database.dispose()
    rng = random.Random(11)
    now = datetime.now(UTC)
    keys = IdentityCodeKeys(SECRET)
    password_hash = PasswordHasher().hash(PASSWORD)
    staff: list[tuple[str, str, str]] = []  # (id, name, role)
    for t in range(TEAMS):
        for s in range(STAFF_PER_TEAM):
            role = "team_lead" if s == 0 else ("coordinator" if s <= 14 else "case_manager")
            staff.append((f"staff.{t:02d}.{s:02d}", f"{FIRST[s % 8]} {LAST[(t + s) % 18]}-{t}{s}", role))
    managers = [s for s in staff if s[2] in ("coordinator", "case_manager")]
    coordinators = [s[0] for s in staff if s[2] == "coordinator"]
    counts: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        counts["staff_user"] = copy_rows(conn, "staff_user", ["id", "name", "active", "created_at", "password_hash"],
                                         ((i, n, True, now, password_hash) for i, n, _ in staff))
        copy_rows(conn, "staff_user_role", ["user_id", "role"], ((i, r) for i, _, r in staff))
        copy_rows(conn, "team", ["id", "name", "created_at"],
                  ((f"team{t:02d}", f"Team {t}", now) for t in range(TEAMS)))
        copy_rows(conn, "team_group", ["team_id", '"group"', "role"],
                  ((f"team{t:02d}", g, r) for t in range(TEAMS)
                   for g, r in (("coordinators", "coordinator"), ("teamLeads", "team_lead"),
                                ("workAbilityTeam", None))))
        copy_rows(conn, "team_member", ["team_id", "user_id"], ((f"team{i.split('.')[1]}", i) for i, _, _ in staff))
        case_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(cases)]
        client_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(cases)]
        manager_of = [managers[rng.randrange(len(managers))] for _ in range(cases)]

        def clients() -> Iterator[tuple[Any, ...]]:
            for n, client_id in enumerate(client_ids):
                code = fictitious_code(date(1960, 1, 1) + timedelta(days=n // 100), 900 + n % 100)
                sealed = keys.seal(parse(code))
                yield (client_id, f"{FIRST[n % 8]} {LAST[n % 18]}{n}", sealed.search_hash, sealed.ciphertext, "fi", now)

        counts["client"] = copy_rows(conn, "client", ["id", "name", "identity_code_hash", "identity_code_sealed",
                                                      "language", "created_at"], clients())
        counts["case"] = copy_rows(conn, "case", ["id", "definition_id", "business_key", "status", "state",
                                                  "state_format", "version", "variables", "waiting", "created_at",
                                                  "updated_at"],
                                   ((c, definition_id, f"TKT-{n:06d}", "active", "{}", "json", 1, "{}", "[]",
                                 now - timedelta(days=n % 400), now) for n, c in enumerate(case_ids)))
        copy_rows(conn, "client_case", ["case_id", "client_id", "status", "opened_at", "needs_case_manager", "team_id"],
                  ((c, client_ids[n], "open", now, True, f"team{manager_of[n][0].split('.')[1]}")
                   for n, c in enumerate(case_ids)))
        copy_rows(conn, "case_manager_assignment",
                  ["case_id", "client_id", "user_id", "user_name", "from_at", "reason"],
                  ((c, client_ids[n], manager_of[n][0], manager_of[n][1], now, "initial")
                   for n, c in enumerate(case_ids)))
        tasks: list[tuple[Any, ...]] = []
        candidates: list[tuple[str, str, str]] = []
        for n, c in enumerate(case_ids):
            for k in range(tasks_per_case):
                task_id = str(uuid.UUID(int=rng.getrandbits(128)))
                step, name = STEPS[(n + k) % len(STEPS)]
                roll = rng.random()
                group = None
                assignee: str | None = manager_of[n][0]
                if roll < 0.10:
                    assignee, group = None, "coordinators"
                elif roll < 0.13:
                    assignee, group = None, "workAbilityTeam"
                elif roll < 0.15:
                    assignee, group = None, "teamLeads"
                due = now + timedelta(days=rng.randint(-30, 60)) if rng.random() < 0.8 else None
                follow = now + timedelta(days=rng.randint(1, 30)) if assignee and rng.random() < 0.1 else None
                tasks.append((task_id, c, step, name, "open", assignee, "[]", json.dumps([group] if group else []),
                               due, follow, 50, now - timedelta(days=rng.randint(0, 90)),
                               now if assignee else None))
                if group:
                    candidates.append((task_id, "group", group))
        counts["task"] = copy_rows(conn, "task", ["id", "case_id", "element_id", "name", "status", "assignee",
                                                  "candidate_users", "candidate_groups", "due", "follow_up", "priority",
                                                  "created_at", "claimed_at"], tasks)
        copy_rows(conn, "task_candidate", ["task_id", "kind", "value"], candidates)

        def events() -> Iterator[tuple[Any, ...]]:
            per_case = max(1, history // max(1, cases))
            for n, c in enumerate(case_ids):
                start = now - timedelta(days=400)
                for k in range(per_case):
                    step, name = STEPS[k % len(STEPS)]
                    at = start + timedelta(hours=k)
                    yield (c, str(uuid.UUID(int=rng.getrandbits(128))), step, name, "UserTask", "completed",
                           at, at + timedelta(minutes=30), float(k), manager_of[n][0])

        counts["history_event"] = copy_rows(conn, "history_event", ["case_id", "task_id", "element_id", "element_name",
                                                                    "element_type", "state", "started_at", "ended_at",
                                                                    "ended_seq", "actor"], events())
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # index-only scans need the visibility map, as autovacuum keeps it
        conn.execute("CHECKPOINT")  # write the bulk load out now, not while the users are measured
    return {"coordinators": coordinators, "counts": counts, "seconds": round(time.monotonic() - started, 1)}


def wsgi() -> Any:
    """The app for gunicorn (`bench.inbox:wsgi()`), on the database named by POLKU_BENCH_DATABASE_URL."""
    from casework.identity_code import IdentityCodeKeys
    from engine.db import Database
    from engine.runtime import Engine
    from webapp import create_app

    engine = Engine(Database(os.environ["POLKU_BENCH_DATABASE_URL"]))
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "IDENTITY_CODE_KEYS": IdentityCodeKeys(SECRET),
                       "SIGN_IN_LIMIT_ADDRESS": 10_000})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, workers: int, threads: int, app: str = "bench.inbox:wsgi()") -> Iterator[str]:
    """gunicorn serving `app` (a WSGI factory of a bench module) on the benchmark's database, until the block ends."""
    import requests

    port = free_port()
    env = {**os.environ, "POLKU_BENCH_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "--threads",
                             str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning", app],
                            cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/login", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def signed_in(base: str, user: str) -> Any:
    import re

    import requests

    session = requests.Session()
    page = session.get(base + "/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    answer = session.post(base + "/login", data={"csrf_token": token.group(1), "user_id": user,
                                                 "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 302, f"sign-in of {user} failed: {answer.status_code}"
    return session


def load(base: str, sessions: list[Any], seconds: float, think_ms: float,
         requests_of: Callable[[int, random.Random], Iterable[tuple[str, str]]]) -> dict[str, list[float]]:
    """Each session is a user who, until `seconds` pass, GETs the (label, path) pairs `requests_of(user number, its
    random generator)` gives, each with a think time after it; every answer must be 200. The timings in ms per
    label, so that every benchmark measures and waits alike."""
    timings: dict[str, list[float]] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user(n: int) -> None:
        rng = random.Random(n)
        time.sleep(rng.random() * think_ms / 1000)
        while time.monotonic() < stop:
            for label, path in requests_of(n, rng):
                began = time.perf_counter()
                answer = sessions[n].get(base + path)
                took = (time.perf_counter() - began) * 1000
                assert answer.status_code == 200, f"{path}: {answer.status_code}"
                with lock:
                    timings.setdefault(label, []).append(took)
                time.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(endpoint: str, timings: list[float], users: int, think_ms: float, **extra: Any) -> None:
    """One JSON line on stdout per endpoint measured: what the lead compares between runs."""
    print(json.dumps({"endpoint": endpoint, "p50_ms": round(statistics.median(timings), 1),
                      "p95_ms": round(percentile(timings, 95), 1), "users": users, "requests": len(timings),
                      "think_ms": think_ms, **extra}), flush=True)


PATHS = ("/inbox", "/inbox.json")


def measure(base: str, coordinators: list[str], users: int, seconds: float, think_ms: float) -> dict[str, list[float]]:
    sessions = [signed_in(base, coordinators[i % len(coordinators)]) for i in range(users)]
    for s in sessions:  # warm each worker process and connection
        for path in PATHS:
            s.get(base + path)
    timings = load(base, sessions, seconds, think_ms, lambda _n, _rng: [(path, path) for path in PATHS])
    return {path: timings.get(path, []) for path in PATHS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--tasks-per-case", type=int, default=3)
    parser.add_argument("--history", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes (measured best on 2 cores)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn process")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL goes to stderr)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database seeded before (with --keep); no seeding")
    args = parser.parse_args()
    if args.reuse:
        from polku.migrate import upgrade

        upgrade(args.reuse)
        coordinators = [f"staff.{t:02d}.{s:02d}" for t in range(TEAMS) for s in range(1, 15)]
        with server(args.reuse, args.workers, args.threads) as base:
            timings = measure(base, coordinators, args.users, args.seconds, args.think_ms)
    else:
        with throwaway_database(args.keep) as url:
            seeded = seed(url, args.cases, args.tasks_per_case, args.history)
            print(json.dumps({"seeded": seeded["counts"], "seconds": seeded["seconds"]}), file=sys.stderr)
            with server(url, args.workers, args.threads) as base:
                timings = measure(base, seeded["coordinators"], args.users, args.seconds, args.think_ms)
    for path, values in timings.items():
        report(path, values, args.users, args.think_ms)


if __name__ == "__main__":
    main()
