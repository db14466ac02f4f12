"""Database access: one SQLAlchemy engine per URL, SQLite tuned for a single writer and many readers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

READ_ONLY = "polku_read_only"  # execution option of the read-only engine: a deferred BEGIN on SQLite


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite write transactions take the write lock at BEGIN (one writer).

    Read-only transactions (Database.read) begin deferred instead: in WAL mode they read a snapshot
    and never wait for the writer.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not url.startswith("sqlite"):
        server = create_engine(url, pool_size=10, max_overflow=20, hide_parameters=True)
        _ping_when_idle(server)
        return server
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}, "hide_parameters": True}
    if url in ("sqlite://", "sqlite:///:memory:"):
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if url not in ("sqlite://", "sqlite:///:memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


PING_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection at checkout only if it sat idle over PING_IDLE_S (pool_pre_ping pings always).

    A busy worker checks a connection out for every transaction; the ping was a round trip each time.
    A connection back in the pool for under a second is taken as alive: one that died meanwhile fails
    its statement, and SQLAlchemy then sees the disconnect and renews the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["polku.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("polku.idle_since", None)
        if getattr(dbapi_conn, "broken", False) or getattr(dbapi_conn, "closed", False):
            raise DisconnectionError("connection is closed")
        if since is None or time.monotonic() - since <= PING_IDLE_S:
            return  # just opened, or just used
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_conn.rollback()  # end the ping's implicit transaction: a read-only one must begin afresh
        except Exception as err:  # noqa: BLE001 - any failure: let the pool replace the connection
            raise DisconnectionError(str(err)) from err


class Database:
    """Owns the engine and hands out one session per transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        options: dict[str, Any] = {READ_ONLY: True}
        if self.is_postgres:
            options["postgresql_readonly"] = True  # a write by mistake fails instead of taking locks
        self._readers = sessionmaker(self.engine.execution_options(**options), expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commits at the end of the block, or rolls back on any error.

        On SQLite it takes the write lock at BEGIN, so two writers queue instead of failing on upgrade.
        """
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction that never queues behind a writer (the inbox reads all day).

        SQLite: a deferred BEGIN reading a snapshot (WAL); PostgreSQL: a READ ONLY transaction.
        """
        with self._readers() as session, session.begin():
            yield session

    def create_all(self) -> None:
        from engine.models import Base

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
