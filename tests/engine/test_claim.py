"""The shared claim (engine/claim.py) on a table the engine knows nothing of: order, lease, and two claimers.

The job queue and the outbox mailer both claim through it; here it works a scratch table of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import DateTime, ForeignKey, Integer, String, or_, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.claim import Claim, Order, claim
from engine.clock import aware
from engine.db import Database
from tests.conftest import WAIT

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Scratch(DeclarativeBase):
    pass


class Shelf(Scratch):
    __tablename__ = "claim_test_shelf"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(20))
    in_use: Mapped[bool] = mapped_column(default=True)


class Chore(Scratch):
    __tablename__ = "claim_test_chore"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey(Shelf.id))
    priority: Mapped[int] = mapped_column(Integer)
    due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(String(20))
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@pytest.fixture
def scratch(db: Database) -> Iterator[Database]:
    Scratch.metadata.create_all(db.engine)
    yield db
    Scratch.metadata.drop_all(db.engine)


def available(now: datetime) -> Claim:
    """Chores on an open shelf, due (or undated), not held; most urgent first, then in the order added."""
    return Claim(Chore, (Shelf.in_use.is_(True), or_(Chore.due.is_(None), Chore.due <= now),
                         or_(Chore.held_until.is_(None), Chore.held_until < now)),
                 (Order(Chore.priority, descending=True), Order(Chore.id)),
                 ((Shelf, Shelf.id == Chore.shelf_id),), (Shelf.label,))


def add_chores(db: Database, chores: list[tuple[int, int, datetime | None]], shelf_open: bool = True) -> None:
    with db.transaction() as s:
        s.add(Shelf(id=1, label="open"))
        s.add(Shelf(id=2, label="closed", in_use=False))
        s.flush()
        for id_, priority, due in chores:
            s.add(Chore(id=id_, shelf_id=1 if shelf_open else 2, priority=priority, due=due))


def take(db: Database, who: str, limit: int, now: datetime = NOW) -> list[tuple[int, str]]:
    with db.transaction() as s:
        rows = claim(s, available(now), limit, {"holder": who, "held_until": now + timedelta(minutes=5)})
        return [(chore.id, label) for chore, label in rows]


def test_a_claim_takes_the_matching_rows_in_order_and_sets_their_lease(scratch: Database) -> None:
    hour = timedelta(hours=1)
    add_chores(scratch, [(1, 0, NOW - hour), (2, 5, NOW - hour), (3, 5, NOW - 2 * hour), (4, 9, NOW + hour),
                         (5, 0, None), (6, 5, None)])
    with scratch.transaction() as s:
        s.add(Chore(id=7, shelf_id=2, priority=99, due=None))  # on a closed shelf: never claimed

    assert take(scratch, "a", 4) == [(2, "open"), (3, "open"), (6, "open"), (1, "open")]
    assert take(scratch, "b", 4) == [(5, "open")]  # the rest are held, not due, or on a closed shelf
    with scratch.read() as s:
        held = {c.id: (c.holder, aware(c.held_until)) for c in s.scalars(select(Chore))}
    lease = NOW + timedelta(minutes=5)
    assert held == {1: ("a", lease), 2: ("a", lease), 3: ("a", lease), 6: ("a", lease), 5: ("b", lease),
                    4: (None, None), 7: (None, None)}
    assert take(scratch, "c", 10, NOW + 2 * hour) == [(4, "open"), (2, "open"), (3, "open"),
                                                                     (6, "open"), (1, "open"), (5, "open")]


def test_two_claimers_at_once_take_disjoint_rows(database_url: str, scratch: Database) -> None:
    add_chores(scratch, [(n, n % 3, NOW - timedelta(seconds=n)) for n in range(1, 61)])
    other = Database(database_url)  # as a second process would: its own connections
    start = threading.Barrier(2)
    taken: dict[str, list[int]] = {}

    def drain(db: Database, who: str) -> None:
        start.wait()
        mine: list[int] = []
        while batch := take(db, who, 4):
            mine += [id_ for id_, _ in batch]
        taken[who] = mine

    try:
        threads = [threading.Thread(target=drain, args=(db, who)) for db, who in ((scratch, "a"), (other, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert not any(t.is_alive() for t in threads)
    finally:
        other.dispose()
    assert sorted(taken["a"] + taken["b"]) == list(range(1, 61))  # every row once, none twice
    with scratch.read() as s:
        holders = dict(s.execute(select(Chore.id, Chore.holder)).all())
    assert {id_ for id_, who in holders.items() if who == "a"} == set(taken["a"])


def test_a_claim_skips_rows_another_open_claim_holds_and_locks_no_joined_row(database_url: str,
                                                                               scratch: Database) -> None:
    if not scratch.is_postgres:
        pytest.skip("SQLite has one writer: a second claim waits for the first to commit")
    add_chores(scratch, [(n, 0, NOW - timedelta(seconds=n)) for n in range(1, 7)])
    other = Database(database_url)
    try:
        with scratch.transaction() as s:
            first = [chore.id for chore, _ in claim(s, available(NOW), 3, {"holder": "a"})]
            # the claim above is not committed: a second claimer neither waits for it nor takes its rows
            second = take(other, "b", 10)
            with other.transaction() as o:  # the joined shelf row is not locked by the claim
                o.execute(text("SET LOCAL lock_timeout = '2s'"))
                o.execute(select(Shelf).where(Shelf.id == 1).with_for_update(nowait=True)).all()
    finally:
        other.dispose()
    assert first == [1, 2, 3]
    assert [id_ for id_, _ in second] == [4, 5, 6]
