"""One UTC helper for the whole engine: naive datetimes (SQLite's, a diagram's) are read as UTC, once, in one place."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta, timezone

from engine.clock import aware, utcnow


def test_aware_reads_naive_as_utc_and_leaves_the_rest_alone() -> None:
    assert aware(datetime(2026, 1, 5, 9)) == datetime(2026, 1, 5, 9, tzinfo=UTC)
    helsinki = datetime(2026, 1, 5, 11, tzinfo=timezone(timedelta(hours=2)))
    assert aware(helsinki) is helsinki
    assert aware(None) is None
    assert utcnow().tzinfo is UTC


def test_no_module_keeps_a_helper_of_its_own() -> None:
    for module, name in (("engine.models", "aware"), ("engine.camunda.juel_values", "aware"),
                         ("engine.camunda.script_engine", "utcnow"), ("engine.camunda.sandbox", "_now")):
        found = getattr(importlib.import_module(module), name, None)
        assert found is None or found.__module__ == "engine.clock", f"{module}.{name}"
