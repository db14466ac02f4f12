"""The case page at county scale: `/cases/<case number>` under 20 concurrent case managers.

    python bench/casepage.py [--cases 20000] [--tasks-per-case 3] [--history 2000000] [--notes-per-case 5]
                             [--users 20] [--seconds 20] [--think-ms 1000] [--keep]
    python bench/casepage.py --cases 500 --history 20000 --seconds 10   # a quick run

Seeds the inbox benchmark's data (bench/inbox.py: staff in teams, clients, active cases with a current case
manager, open tasks, history rows; PostgreSQL, COPY), adds notes to every case, serves the app with gunicorn
(bench/inbox.py's server) and lets `--users` threads, each signed in as a staff member who manages cases,
open the page of one of their own cases after another with a think time between requests. Every view is
a real one: the access rule asked, the access log written, header, diagram, sections, timeline and notes
read and rendered.
The LAST line is JSON: {"p50_ms", "p95_ms", "users", "requests", "think_ms"}; target p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbox import copy_rows, load, report, seed, server, signed_in, throwaway_database  # noqa: E402

ENDPOINT = "/cases/<case number>"

NOTES = ["Soitettu asiakkaalle, seuraava tapaaminen sovittu.", "Asiakas toimitti lääkärinlausunnon.",
         "Verkostopalaveri pidetty, työkokeilu alkaa kuun alussa.", "Asiakas ei vastannut puhelimeen.",
         "Kuntouttavan työtoiminnan paikka varattu."]


def seed_notes(url: str, per_case: int) -> int:
    """Notes on every case, written by its case manager (the timeline and the notes part read them)."""
    import psycopg

    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT case_id, user_id, user_name FROM case_manager_assignment WHERE to_at IS NULL"
                            ).fetchall()
        written = copy_rows(conn, "case_note",
                            ["case_id", "author_id", "author_name", "visibility", "text", "created_at"],
                            ((case_id, user_id, name, "case_team" if k % 2 else "network", NOTES[k % len(NOTES)],
                              now - timedelta(days=k * 7)) for case_id, user_id, name in rows for k in range(per_case)))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE case_note")
    return written


def cases_by_manager(url: str) -> dict[str, list[str]]:
    """Each case manager's case numbers (the cases each benchmark user may open as its case manager)."""
    import psycopg

    out: dict[str, list[str]] = {}
    with psycopg.connect(url) as conn:
        for user_id, key in conn.execute('SELECT a.user_id, c.business_key FROM case_manager_assignment a '
                                         'JOIN "case" c ON c.id = a.case_id WHERE a.to_at IS NULL'):
            out.setdefault(user_id, []).append(key)
    return out


def measure(base: str, managers: dict[str, list[str]], users: int, seconds: float, think_ms: float) -> list[float]:
    people = sorted(managers, key=lambda u: (-len(managers[u]), u))[:users]
    if len(people) < users:
        people = [people[i % len(people)] for i in range(users)]
    sessions = [signed_in(base, person) for person in people]
    for person, s in zip(people, sessions, strict=True):  # warm each worker process and connection
        answer = s.get(f"{base}/cases/{managers[person][0]}")
        assert answer.status_code == 200, f"{person}: {answer.status_code}"

    def one_of_their_cases(n: int, rng: random.Random) -> list[tuple[str, str]]:
        keys = managers[people[n]]
        return [(ENDPOINT, f"/cases/{keys[rng.randrange(len(keys))]}")]

    return load(base, sessions, seconds, think_ms, one_of_their_cases).get(ENDPOINT, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--tasks-per-case", type=int, default=3)
    parser.add_argument("--history", type=int, default=2_000_000)
    parser.add_argument("--notes-per-case", type=int, default=5)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn process")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL goes to stderr)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database seeded before (with --keep); no seeding")
    args = parser.parse_args()

    def run(url: str) -> list[float]:
        managers = cases_by_manager(url)
        with server(url, args.workers, args.threads) as base:
            return measure(base, managers, args.users, args.seconds, args.think_ms)

    if args.reuse:
        from polku.migrate import upgrade

        upgrade(args.reuse)
        timings = run(args.reuse)
    else:
        with throwaway_database(args.keep) as url:
            seeded: dict[str, Any] = seed(url, args.cases, args.tasks_per_case, args.history)
            seeded["counts"]["case_note"] = seed_notes(url, args.notes_per_case)
            print(json.dumps({"seeded": seeded["counts"], "seconds": seeded["seconds"]}), file=sys.stderr)
            timings = run(url)
    report(ENDPOINT, timings, args.users, args.think_ms)


if __name__ == "__main__":
    main()
