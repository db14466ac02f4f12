"""Casework's tables live on their own metadata, apart from the engine's, and still point at engine tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from casework import schema as casework_schema
from casework.client_case import ClientCase
from casework.notification import OutboxMessage
from engine.models import Base, Case


def test_casework_registers_no_table_on_the_engines_metadata() -> None:
    engine_tables = set(Base.metadata.tables)
    casework_tables = set(casework_schema.metadata.tables)
    assert {"client", "client_case", "letter", "staff_user", "outbox_message"} <= casework_tables
    assert {"case", "job", "timer", "task"} <= engine_tables
    assert not engine_tables & casework_tables
    assert Base.metadata is not casework_schema.metadata


def test_foreign_keys_into_engine_tables_resolve_across_the_two_schemas() -> None:
    for column in (ClientCase.__table__.c.case_id, OutboxMessage.__table__.c.case_id):
        (fk,) = column.foreign_keys
        assert fk.column is Case.__table__.c.id


def test_each_schema_can_be_created_on_its_own_the_engine_first(tmp_path: Path) -> None:
    """The engine needs nothing of casework (a simulation's throw-away database has only engine tables)."""
    db = create_engine(f"sqlite:///{tmp_path}/schemas.db")
    Base.metadata.create_all(db)
    assert "client" not in inspect(db).get_table_names()
    casework_schema.metadata.create_all(db)
    fks = inspect(db).get_foreign_keys("client_case")
    assert {(fk["referred_table"], tuple(fk["referred_columns"])) for fk in fks} >= {("case", ("id",))}
    db.dispose()


def test_the_schema_module_lists_every_casework_table_and_none_lands_on_the_engine() -> None:
    """Alembic sees casework tables through casework.schema: a module it forgets would get no migration check."""
    script = """
import importlib, json, pkgutil
import casework
from casework import schema
from engine.models import Base
listed = set(schema.metadata.tables)
for module in pkgutil.walk_packages(casework.__path__, "casework."):
    importlib.import_module(module.name)
print(json.dumps({"listed": sorted(listed), "all": sorted(schema.metadata.tables),
                  "on_engine": sorted(m.class_.__module__ for m in Base.registry.mappers
                                      if not m.class_.__module__.startswith("engine."))}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["listed"] == found["all"]
    assert found["on_engine"] == []
