"""The management view at county scale: `/manage` and the heatmap data under 20 concurrent users.

    python bench/dashboard.py [--cases 20000] [--tasks-per-case 3] [--history 2000000] [--timers 0.2]
                              [--users 20] [--seconds 20] [--think-ms 1000] [--keep]

Seeds the inbox benchmark's data (bench/inbox.py: staff in 15 teams, active cases with a current case manager,
open tasks, history rows, in bulk with COPY) and adds what the management view reads beyond it: each case's
team (its case manager's) and municipality, a timer for a share of the cases (behind an event-based gateway, so
its age comes from the gateway's open history row), some idle cases, and one manager account. Then serves the
app with gunicorn and lets `--users` threads, signed in as the team leads and the manager, load `/manage` with
a think time between requests. Before serving, the scheduler's summary refresh (casework.step_summary) runs as
the scheduler would, until the duration histogram has caught up with the whole history; its duration is printed
(stderr). Each endpoint (`/manage`, and `/manage/heatmap.json` when the app has it) is measured in turn; one JSON
line per endpoint on stdout: {"endpoint", "p50_ms", "p95_ms", "users", "requests", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbox import (  # noqa: E402
    PASSWORD,
    TEAMS,
    load,
    report,
    seed,
    signed_in,
    throwaway_database,
)
from bench.inbox import server as inbox_server  # noqa: E402

MANAGER = "manager.00"
MUNICIPALITIES = ["Espoo", "Vantaa", "Kauniainen", "Kirkkonummi"]


def seed_management(url: str, timer_share: float) -> dict[str, int]:
    """What /manage reads beyond the inbox's data: teams and municipalities of cases, timers, a manager."""
    import psycopg
    from argon2 import PasswordHasher

    rng = random.Random(13)
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE client_case SET team_id = 'team' || split_part(a.user_id, '.', 2) "
                     "FROM case_manager_assignment a WHERE a.case_id = client_case.case_id AND a.to_at IS NULL")
        for n, municipality in enumerate(MUNICIPALITIES):
            conn.execute("UPDATE client_case SET municipality = %s WHERE get_byte(decode(md5(case_id), 'hex'), 0) "
                         "%% %s = %s", (municipality, len(MUNICIPALITIES), n))
        conn.execute("INSERT INTO staff_user (id, name, active, created_at, password_hash) "
                     "VALUES (%s, %s, true, %s, %s)", (MANAGER, "Bench Manager", now, PasswordHasher().hash(PASSWORD)))
        conn.execute("INSERT INTO staff_user_role (user_id, role) VALUES (%s, 'manager')", (MANAGER,))
        case_ids = [r[0] for r in conn.execute("SELECT id FROM \"case\" ORDER BY id").fetchall()]
        chosen = [c for c in case_ids if rng.random() < timer_share]
        with conn.cursor() as cur, cur.copy("COPY history_event (case_id, task_id, element_id, element_name, "
                                            "element_type, state, started_at) FROM STDIN") as copy:
            for c in chosen:
                copy.write_row((c, str(uuid.UUID(int=rng.getrandbits(128))), "review_wait", "Seurantaa odotetaan",
                                "EventBasedGateway", "active", now - timedelta(days=rng.randint(0, 180))))
        with conn.cursor() as cur, cur.copy("COPY timer (id, case_id, element_id, due_at) FROM STDIN") as copy:
            for c in chosen:
                copy.write_row((str(uuid.UUID(int=rng.getrandbits(128))), c, "follow_up_due",
                                now + timedelta(days=rng.randint(1, 180))))
        counts["timer"] = len(chosen)
        idle = conn.execute("UPDATE \"case\" SET updated_at = %s WHERE get_byte(decode(md5(id), 'hex'), 1) < 8",
                            (now - timedelta(days=45),))
        counts["idle_cases"] = idle.rowcount
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return counts


def run_refresh(url: str) -> dict[str, Any]:
    """The scheduler's summary refresh, in turns (casework.step_summary.BATCH history rows each) until caught up."""
    from casework.step_summary import refresh
    from engine.db import Database

    db = Database(url)
    began = time.monotonic()
    rounds = []
    try:
        while True:
            with db.transaction() as session:
                done = refresh(session, datetime.now(UTC))
            rounds.append(done.took_ms)
            if done.caught_up:
                break
    finally:
        db.dispose()
    return {"refresh_seconds": round(time.monotonic() - began, 1), "refresh_rounds_ms": rounds,
            "waits": done.waiting}


def has_route(path: str) -> bool:
    """Whether the app serves `path` (the heatmap data is built by another change; skipped until it lands)."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    app = wsgi()
    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    return True


def wsgi() -> Any:
    """The app for gunicorn (`bench.dashboard:wsgi()`), with the management blueprints registered if the
    app factory does not register them yet."""
    import webapp.manage as manage
    from bench.inbox import wsgi as inbox_wsgi

    app = inbox_wsgi()
    if "manage" not in app.blueprints:
        app.register_blueprint(manage.bp)
        app.register_blueprint(manage.api)
    return app


def server(url: str, workers: int, threads: int) -> AbstractContextManager[str]:
    """bench/inbox.py's gunicorn, serving this module's app (with the management blueprints)."""
    return inbox_server(url, workers, threads, "bench.dashboard:wsgi()")


def sign_in_users(base: str, users: int) -> list[Any]:
    """Each user a team lead (their own team's figures) or, every fourth, the manager (every case); signed in once
    for every endpoint measured (the sign-in is rate limited per address)."""
    people = [MANAGER if n % 4 == 3 else f"staff.{n % TEAMS:02d}.00" for n in range(users)]
    return [signed_in(base, person) for person in people]


def measure(base: str, sessions: list[Any], seconds: float, think_ms: float, path: str) -> list[float]:
    """`len(sessions)` users load `path` with a think time between requests; the timings in ms."""
    for s in sessions:  # warm each worker process and connection
        assert s.get(base + path).status_code == 200
    return load(base, sessions, seconds, think_ms, lambda _n, _rng: [(path, path)]).get(path, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--tasks-per-case", type=int, default=3)
    parser.add_argument("--history", type=int, default=2_000_000)
    parser.add_argument("--timers", type=float, default=0.2, help="share of cases waiting at a follow-up timer")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--path", action="append", default=None,
                        help="a page measured (repeatable; default /manage and /manage/heatmap.json)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL goes to stderr)")
    args = parser.parse_args()
    paths = args.path or ["/manage", "/manage/heatmap.json"]
    with throwaway_database(args.keep) as url:
        seeded = seed(url, args.cases, args.tasks_per_case, args.history)
        extra = seed_management(url, args.timers)
        print(json.dumps({"seeded": {**seeded["counts"], **extra}, "seconds": seeded["seconds"]}), file=sys.stderr)
        os.environ["POLKU_BENCH_DATABASE_URL"] = url
        refreshed = run_refresh(url)
        print(json.dumps({"summary_refresh": refreshed}), file=sys.stderr, flush=True)
        measured = []
        for path in paths:
            if not has_route(path.split("?")[0]):
                print(json.dumps({"endpoint": path, "skipped": "the app has no such route yet"}), flush=True)
                continue
            measured.append(path)
        with server(url, args.workers, args.threads) as base:
            sessions = sign_in_users(base, args.users)
            for path in measured:
                timings = measure(base, sessions, args.seconds, args.think_ms, path)
                report(path, timings, args.users, args.think_ms, cases=args.cases)


if __name__ == "__main__":
    main()
