"""Cases saved by an earlier Polku still run: each fixture of tests/fixtures/saved_states/ is loaded into a fresh
database with today's code and driven to its end by the real handlers, as staff, partners and the scheduler would.

A change that strands saved cases (a new saved-state shape without an upgrade, a SpiffWorkflow upgrade
whose migration misses something, a migration that breaks existing rows) fails here.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from casework.client_case import CaseStatus as ClientCaseStatus
from casework.identity_code import IdentityCodeKeys
from engine.db import Database
from engine.models import Case, Incident, Job
from engine.runtime import Engine
from tests.conftest import POSTGRES_URL, TestClock, _postgres_database
from tests.fixtures.make_saved_states import SHAPES
from tests.fixtures.saved_state import HERE, read, restore
from tests.scenarios.conftest import BROAD, World
from workers.services import Services

FIXTURES = sorted(HERE.glob("*.json"))
MANAGER = "koordinaattori.anna"


def make_plan(world: World, case: str) -> dict[str, Any]:
    world.consent(case, "employment")
    plan = world.plan("employment")
    (task,) = [t for t in world.engine.open_tasks(case) if t.element_id == "make_plan"]
    if (task.form or {}).get("fields"):  # saved before the plan was a Camunda Form: goals and tasks as text
        plan["intermediateGoals"] = "\n".join(goal["goal"] for goal in plan["intermediateGoals"])
        plan["clientTasks"] = "\n".join(row["task"] for row in plan["clientTasks"])
    return plan


# What each person answers, by element id, to bring any case to its end.
ANSWERS: dict[str, Callable[[World, str], dict[str, Any]]] = {
    "needs_mapping": lambda w, c: BROAD,
    "mapping_escalation": lambda w, c: {"escalationAction": "Kartoitusaika sovittu"},
    "confirm_decision": lambda w, c: {"decision": "coordinator", "caseManager": MANAGER},
    "work_ability_team_review": lambda w, c: {"decision": "coordinator", "caseManager": MANAGER,
                                              "teamNotes": "Koordinaattori jatkaa"},
    "make_plan": make_plan,
    "obtain_consent": lambda w, c: {"consentObtained": False, "consentNotes": "Asiakas ei halua"},
    "follow_up_review": lambda w, c: {"followUpDecision": "close", "goalProgress": "reached"},
    "handover_plan": lambda w, c: {"closureReason": "employment", "nextResponsible": "Työllisyyspalvelut",
                                   "nextResponsibleContact": "029 000 0000",
                                   "continuationPlan": "Seuranta työllisyyspalveluissa"},
    "handover_meeting": lambda w, c: {"meetingDate": w.clock.now.date().isoformat(), "meetingHeld": True,
                                      "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut."},
    "name_new_case_manager": lambda w, c: {"newCaseManager": "koordinaattori.ville", "changeReason": "workload"},
    "confirm_handover_old": lambda w, c: {"handoverNotesOld": "Asiakas tavattu yhdessä",
                                          "jointMeetingDate": w.clock.now.date().isoformat()},
    "confirm_handover_new": lambda w, c: {"handoverConfirmed": True},
}


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables yet: the fixture decides the revision its rows go in at."""
    if POSTGRES_URL:
        databases = _postgres_database()
        yield next(databases)
        next(databases, None)  # drops the database
    else:
        yield f"sqlite:///{tmp_path / 'polku.db'}"


@contextmanager
def loaded_world(url: str, fixture: dict[str, Any]) -> Iterator[World]:
    """The fixture's database restored at `url`, driven with its clock, key and partners."""
    restore(url, fixture)
    db = Database(url)
    clock = TestClock()
    clock.now = datetime.fromisoformat(fixture["now"])
    engine = Engine(db, clock=clock)
    try:
        yield World(engine, Services(db, clock, IdentityCodeKeys(fixture["secret_key"]), None, engine), clock,
                    partners=dict(fixture["partners"]))
    finally:
        db.dispose()


def answer_a_partner(world: World, case: str) -> bool:
    """One partner whose referral went out and is not answered yet accepts; False when none is left."""
    for service_id, (outcome, referred) in sorted(world.referral_outcomes(case).items()):
        if referred and outcome is None:
            world.message("partnerAnswer", case, answeredServiceId=service_id, partnerDecision="accepted")
            return True
    return False


def drive_to_end(world: World, case: str, saved_timers: list[str], steps: int = 60) -> list[str]:
    """The timers waiting when the case was saved fire first; then tasks, partner answers and timers in turn."""
    done = []
    for element in dict.fromkeys(saved_timers):
        if world.engine.waiting_timers(case, element):
            world.fire(case, element)
            done.append(f"timer {element}")
    for _ in range(steps):
        if world.status(case) != "active":
            return done
        tasks = world.engine.open_tasks(case)
        if tasks:
            task = tasks[0]
            assert task.element_id in ANSWERS, f"no answer for task {task.element_id}"
            world.task(case, task.element_id, ANSWERS[task.element_id](world, case), actor=task.assignee or MANAGER)
            done.append(f"task {task.element_id}")
        elif answer_a_partner(world, case):
            done.append("partnerAnswer")
        elif timers := world.engine.waiting_timers(case):
            timer_id, due = timers[0]
            world.clock.now = max(world.clock.now, due + timedelta(minutes=1))
            world.engine.fire_timer(timer_id, at=world.clock.now)
            world.work()
            done.append("timer")
        else:
            pytest.fail(f"case {case} is stuck after {done}: waiting {world.engine.case(case)['waiting']}")
    pytest.fail(f"case {case} did not end in {steps} steps: {done}")


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_a_saved_case_runs_to_its_end_with_todays_code(path: Path, empty_database_url: str) -> None:
    fixture = read(path)
    case = fixture["case_id"]
    saved_timers = [row["element_id"] for row in fixture["tables"]["timer"] if row["case_id"] == case]
    with loaded_world(empty_database_url, fixture) as world:
        assert world.status(case) == "active"
        steps = drive_to_end(world, case, saved_timers)
        assert world.status(case) == "completed", steps
        assert world.client_case_of(case).status is ClientCaseStatus.CLOSED
        with world.engine.db.transaction() as session:
            assert session.scalars(select(Job).where(Job.case_id == case)).all() == []
            assert session.scalars(select(Incident).where(Incident.case_id == case)).all() == []
            row = session.get(Case, case)
            assert row is not None and row.spiff_version is not None


def test_every_case_shape_has_a_fixture() -> None:
    assert sorted(p.stem for p in FIXTURES) == sorted(SHAPES)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixtures_hold_only_fictitious_identity_codes(path: Path) -> None:
    fixture = read(path)
    keys = IdentityCodeKeys(fixture["secret_key"])
    codes = [keys.reveal(base64.b64decode(row["identity_code_sealed"]["base64"]))
             for row in fixture["tables"]["client"]]
    assert codes and all(900 <= int(code[7:10]) <= 999 for code in codes), codes
