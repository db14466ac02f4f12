"""Claiming rows of a work table: the one mechanism behind the job queue and any other queue (the outbox).

A claim picks up to N rows matching conditions, in order, skipping rows another claimer holds, and sets
their lease columns. On PostgreSQL that is one statement, as procrastinate does it: the chosen ids are a
MATERIALIZED CTE with `FOR UPDATE OF <table> SKIP LOCKED` (so the locking subquery runs exactly once and
locks only the claimed table's rows, never the joined ones), marked with `UPDATE ... RETURNING`. On SQLite,
whose write transactions hold the one write lock from BEGIN, it is a select, an update and a read.
The caller owns the table and its columns; this module knows nothing of jobs or mail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, inspect, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


@dataclass(frozen=True)
class Order:
    """One ordering key of a claim: an attribute of the claimed entity, ascending unless `descending`."""

    column: InstrumentedAttribute[Any]
    descending: bool = False


@dataclass(frozen=True)
class Claim:
    """Which rows of `entity` may be claimed and in what order.

    `joins` are (table, on clause) pairs for other tables that `where` or `returning` name; `returning`
    are their columns read along with each claimed row.
    """

    entity: type[Any]
    where: Sequence[ColumnElement[bool]]
    order: Sequence[Order]
    joins: Sequence[tuple[Any, ColumnElement[bool]]] = ()
    returning: Sequence[Any] = ()  # columns or attributes


def claim(session: Session, spec: Claim, limit: int, lease: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Claim up to `limit` rows of `spec`, setting the `lease` column values; rows (entity, *returning) in order."""
    if limit < 1:
        return []
    key = inspect(spec.entity).primary_key[0]
    choose = select(key)
    for table, on in spec.joins:
        choose = choose.join(table, on)
    choose = choose.where(*spec.where).order_by(
        *(o.column.desc() if o.descending else o.column for o in spec.order)).limit(limit)
    ons = [on for _, on in spec.joins]
    if session.get_bind().dialect.name == "postgresql":
        chosen = choose.with_for_update(of=spec.entity, skip_locked=True).cte("chosen").prefix_with("MATERIALIZED")
        statement = (update(spec.entity).where(key.in_(select(chosen.c[key.name])), *ons).values(**lease)
                     .returning(spec.entity, *spec.returning))
        rows = list(session.execute(statement, execution_options={"synchronize_session": False}).all())
        return cast(list[tuple[Any, ...]], _in_order(rows, spec.order))
    ids = list(session.execute(choose).scalars())
    if not ids:
        return []
    session.execute(update(spec.entity).where(key.in_(ids)).values(**lease),
                    execution_options={"synchronize_session": False})
    rows = list(session.execute(select(spec.entity, *spec.returning).where(key.in_(ids), *ons)
                                .execution_options(populate_existing=True)).all())
    position = {id_: n for n, id_ in enumerate(ids)}
    rows.sort(key=lambda r: position[getattr(r[0], key.key)])
    return cast(list[tuple[Any, ...]], rows)


def _in_order(rows: list[Row[Any]], order: Sequence[Order]) -> list[Row[Any]]:
    """RETURNING has no order: put the rows back in the claim's (PostgreSQL's: NULLs last ascending)."""
    for o in reversed(order):  # a stable sort per key, least significant first
        rows.sort(key=_sort_key(o.column.key), reverse=o.descending)
    return rows


def _sort_key(name: str) -> Callable[[Row[Any]], tuple[bool, Any]]:
    return lambda row: (getattr(row[0], name) is None, getattr(row[0], name))
