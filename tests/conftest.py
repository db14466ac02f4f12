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


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A fresh database migrated to the newest revision: PostgreSQL when configured, else a SQLite file."""
    if POSTGRES_URL:
        gen = _postgres_database(template=migrated_template)
        yield next(gen)
        gen.close()
    else:
        path = tmp_path / "polku.db"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite:///{path}"


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
