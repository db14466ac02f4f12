"""Shared steps of the Camunda Modeler compatibility tests: deploy, start, look at what a case waits for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.camunda.parser.parser import ParsedDeployment, parse_resources
from engine.errors import DiagramError, ValidationFailed
from engine.jobs import LockedJob, TopicRequest
from engine.runtime import Engine
from tests.diagrams import chain, process


def run(engine: Engine, key: str, body: str, variables: Mapping[str, Any] | None = None, extra: str = "",
        business_key: str | None = None, more: Mapping[str, bytes] | None = None) -> str:
    """Deploy one process (plus `more` files) and start a case of it; returns the case id."""
    engine.deploy({f"{key}.bpmn": process(key, body, extra), **(more or {})})
    return engine.start(key, business_key, dict(variables or {}))


def linear(*elements: str, ids: tuple[str, ...] | None = None) -> str:
    """start → the given elements (in order) → end, for elements whose ids are given in `ids`."""
    ids = ids or ()
    return ('<bpmn:startEvent id="start"/>' + "".join(elements) + '<bpmn:endEvent id="end"/>'
            + chain("start", *ids, "end"))


def waiting(engine: Engine, case_id: str) -> list[tuple[str, str]]:
    """(kind, element id) of everything the case waits for."""
    return [(w["kind"], w["id"]) for w in engine.case(case_id)["waiting"]]


def open_task_ids(engine: Engine, case_id: str) -> list[str]:
    return [t.element_id for t in engine.open_tasks(case_id)]


def complete_only_task(engine: Engine, case_id: str, data: Mapping[str, Any] | None = None,
                       element: str | None = None) -> None:
    tasks = [t for t in engine.open_tasks(case_id) if element is None or t.element_id == element]
    assert len(tasks) == 1, [t.element_id for t in engine.open_tasks(case_id)]
    engine.complete_task(tasks[0].id, dict(data or {}), actor="tester")


def fetch(engine: Engine, *topics: str) -> list[LockedJob]:
    return engine.fetch_and_lock("worker", [TopicRequest(t) for t in topics], max_jobs=50)


def refusal(resources: Mapping[str, bytes]) -> list[DiagramError]:
    """The problems parse_resources reports; fails the test when the files are accepted."""
    with pytest.raises(ValidationFailed) as info:
        parse_resources(dict(resources))
    problems = info.value.problems
    assert problems and all(isinstance(p, DiagramError) for p in problems)
    return problems


def refused_at(resources: Mapping[str, bytes]) -> dict[str, str]:
    """Element id → reason of each refusal (the element id must be named)."""
    problems = refusal(resources)
    return {p.element_id or "-": p.reason for p in problems}


def accepted(resources: Mapping[str, bytes]) -> ParsedDeployment:
    return parse_resources(dict(resources))


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they are UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
