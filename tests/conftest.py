"""Fixtures: a real database per test (SQLite file, or PostgreSQL when POLKU_TEST_POSTGRES is set)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.db import Database
from engine.runtime import Engine

POSTGRES_URL = os.environ.get("POLKU_TEST_POSTGRES")  # e.g. postgresql://postgres@127.0.0.1:5432/postgres


class TestClock:
    """A clock tests move by hand, so timers fire without waiting."""

    __test__ = False  # a helper, not a test class

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


WAIT = 20.0  # only ever a deadline for background work, never a timing assertion


def wait_for(predicate: Callable[[], Any], message: str = "condition", timeout: float = WAIT,
             interval: float = 0.02) -> Any:
    """The predicate's first truthy value; fails naming `message` when the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database, empty or copied from `template`; dropped afterwards."""
    import psycopg

    name = f"polku_test_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL or ""
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database migrated to the newest revision per test session, which every test's database copies.

    Running all the migrations for each of some 1,700 tests was a third of the suite's time; a copy (a file copy
    on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL) gives each test the same fresh schema.
    """
    from polku.migrate import upgrade

    if POSTGRES_URL:
        gen = _postgres_database()
        url = next(gen)
        upgrade(url)
        yield url.rsplit("/", 1)[1]
        gen.close()
    else:
        path = tmp_path_factory.mktemp("template") / "polku.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


_REUSABLE: list[str] = []  # PostgreSQL test databases emptied after their test, ready for the next one


def _emptied(url: str, template: str) -> bool:
    """Empty a used test database for the next test (rows deleted, sequences restarted), or False when it cannot be
    trusted to equal a fresh copy any more (its schema differs from the template's): then it is dropped instead.

    Dropping a database costs PostgreSQL a checkpoint (0.3-10 s here); emptying one a few milliseconds.
    """
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL or "", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", (name,))
    with psycopg.connect(url) as conn:  # one transaction, one commit
        if _fingerprint(conn) != _template_schema.get(template):
            return False  # a test changed the schema (a migration step, a constraint of its own): not reusable
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                             "AND tablename <> 'alembic_version'")]
        # DELETE, not TRUNCATE: TRUNCATE gives every table new files (a quarter second per test); foreign keys are
        # not checked meanwhile (replica role), as every table is emptied anyway
        conn.execute("SET LOCAL session_replication_role = replica; "
                     + " ".join(f'DELETE FROM "{t}";' for t in tables)
                     + " SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S' "
                       "AND relnamespace = 'public'::regnamespace")
    return True


_template_schema: dict[str, str] = {}  # template database -> its schema's fingerprint

_SCHEMA = """SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT 'v:' || version_num FROM alembic_version
  UNION ALL SELECT 'c:' || conrelid::regclass || ':' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'i:' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 'a:' || table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':'
    || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT 't:' || tgrelid::regclass || ':' || tgname FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'f:' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) s(x)"""


def _fingerprint(conn: Any) -> str:
    """The schema of a database in one hash: tables, columns, constraints, indexes, triggers, functions, revision."""
    return str(conn.execute(_SCHEMA).fetchone()[0])


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A fresh database migrated to the newest revision: PostgreSQL when configured, else a SQLite file."""
    if POSTGRES_URL:
        import psycopg

        if migrated_template not in _template_schema:
            base = POSTGRES_URL.rsplit("/", 1)[0]
            with psycopg.connect(f"{base}/{migrated_template}") as conn:
                _template_schema[migrated_template] = _fingerprint(conn)
        if _REUSABLE:
            url = _REUSABLE.pop()
            yield url
        else:
            gen = _postgres_database(template=migrated_template)
            url = next(gen)
            yield url
            _KEPT.append(gen)  # dropped at the end of the session (or when it cannot be emptied)
        try:
            if _emptied(url, migrated_template):
                _REUSABLE.append(url)
                return
        except psycopg.Error:
            pass
        _drop(url)
    else:
        path = tmp_path / "polku.db"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite:///{path}"


_KEPT: list[Iterator[str]] = []


def _drop(url: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL or "", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def _drop_reused_databases() -> Iterator[None]:
    yield
    for gen in _KEPT:
        gen.close()  # each drops its database (a no-op for one dropped already)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def engine(db: Database, clock: TestClock) -> Engine:
    return Engine(db, clock=clock)
