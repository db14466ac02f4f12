"""Staffing alarms become team lead tasks: one per alarm, withdrawn when the alarm clears, run by the scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from casework.case_manager import AssignmentReason, assign, deactivate_user, record_client_informed
from casework.staffing import AlarmKind, RaisedAlarm, open_alarm_tasks, raise_alarm_tasks
from casework.teams import add_member, add_team, group_members
from engine.db import Database
from engine.models import Case, Task, TaskStatus
from engine.runtime import Engine
from polku.embedded import check_staffing, start_staffing_checks
from polku.settings import ROOT, Settings
from tests.conftest import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestClock

pytestmark = pytest.mark.usefixtures("staff")
ALARM_BPMN = ROOT / "bpmn" / "staffing-alarm.bpmn"


@pytest.fixture
def alarms_deployed(engine: Engine) -> None:
    engine.deploy({"staffing-alarm.bpmn": ALARM_BPMN.read_bytes()})


def alarm_tasks(engine: Engine) -> list[tuple[str, str, str]]:
    """(alarm kind, case number, candidate groups) of every open alarm task."""
    with engine.db.read() as session:
        rows = session.execute(select(Task, Case).join(Case, Case.id == Task.case_id).where(
            Task.element_id == "resolve_staffing_alarm", Task.status == TaskStatus.OPEN)).all()
        return sorted((str(case.variables.get("alarmKind")), str(case.variables.get("caseNumber")),
                       ",".join(task.candidate_groups or [])) for task, case in rows)


def three_alarms(db: Database, clock: TestClock, new_case: Callable[..., str]) -> dict[str, str]:
    """A case with no case manager, one whose case manager was deactivated, one whose client was not told."""
    cases = {"none": new_case(), "deactivated": new_case(), "not_told": new_case()}
    with db.transaction() as s:
        assign(s, cases["deactivated"], "bertta", AssignmentReason.INITIAL, clock())
        record_client_informed(s, cases["deactivated"], clock())
        assign(s, cases["not_told"], "aino", AssignmentReason.INITIAL, clock())
    clock.advance(days=4)
    with db.transaction() as s:
        deactivate_user(s, "bertta", clock())
    return cases


def business_key(engine: Engine, case_id: str) -> str:
    return str(engine.case(case_id)["businessKey"])


@pytest.mark.usefixtures("alarms_deployed")
def test_each_alarm_becomes_exactly_one_team_lead_task(db: Database, engine: Engine, clock: TestClock,
                                                       new_case: Callable[..., str]) -> None:
    cases = three_alarms(db, clock, new_case)
    first = raise_alarm_tasks(engine, clock())
    assert len(first.raised) == 3 and first.standing == 3
    expected = sorted([("no_case_manager", business_key(engine, cases["none"]), "teamLeads"),
                       ("deactivated_case_manager", business_key(engine, cases["deactivated"]), "teamLeads"),
                       ("client_not_informed", business_key(engine, cases["not_told"]), "teamLeads")])
    assert alarm_tasks(engine) == expected
    for _ in range(3):  # the scheduler runs again and again while the alarms stand: no second task
        clock.advance(minutes=15)
        assert raise_alarm_tasks(engine, clock()).raised == []
    assert alarm_tasks(engine) == expected
    # the team's lead is who the group teamLeads reaches
    with db.transaction() as s:
        add_team(s, "tiimi", "Työkykytiimi", clock())
        for user_id in ("aino", "tiina"):
            add_member(s, "tiimi", user_id)
        assert [u.id for u in group_members(s, "teamLeads")] == ["tiina"]


@pytest.mark.usefixtures("alarms_deployed")
def test_an_alarm_that_clears_withdraws_its_task_and_a_new_alarm_gets_a_new_one(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    cases = three_alarms(db, clock, new_case)
    raise_alarm_tasks(engine, clock())
    with db.transaction() as s:
        assign(s, cases["none"], "cecilia", AssignmentReason.TEAM_DECISION, clock(), by="tiina")
        record_client_informed(s, cases["none"], clock())
        record_client_informed(s, cases["not_told"], clock())
    result = raise_alarm_tasks(engine, clock())
    assert (result.raised, result.cleared, result.standing) == ([], 2, 1)
    assert [kind for kind, _, _ in alarm_tasks(engine)] == ["deactivated_case_manager"]
    with db.transaction() as s:
        assert [r.kind for r in open_alarm_tasks(s)] == [AlarmKind.DEACTIVATED_CASE_MANAGER]
    # Cecilia leaves too: the case has a new alarm of another kind, and a new task
    with db.transaction() as s:
        deactivate_user(s, "cecilia", clock())
    assert len(raise_alarm_tasks(engine, clock()).raised) == 1
    assert [kind for kind, _, _ in alarm_tasks(engine)] == ["deactivated_case_manager"] * 2


@pytest.mark.usefixtures("alarms_deployed")
def test_a_task_done_while_the_alarm_still_stands_comes_back_a_week_later(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()  # decided, nobody named
    [alarm_case] = raise_alarm_tasks(engine, clock()).raised
    [task] = engine.open_tasks(alarm_case)
    engine.complete_task(task.id, {"alarmResolution": "other", "alarmNotes": "Soitettu esihenkilölle"},
                         actor="tiina")
    assert engine.case(alarm_case)["status"] == "completed"
    clock.advance(days=6)
    assert raise_alarm_tasks(engine, clock()).raised == []
    clock.advance(days=1)
    [again] = raise_alarm_tasks(engine, clock()).raised
    assert again != alarm_case and alarm_tasks(engine) == [("no_case_manager", business_key(engine, case_id),
                                                            "teamLeads")]


@pytest.mark.usefixtures("alarms_deployed")
def test_two_schedulers_checking_at_once_raise_one_task_per_alarm(db: Database, engine: Engine, clock: TestClock,
                                                                 new_case: Callable[..., str]) -> None:
    three_alarms(db, clock, new_case)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def check() -> None:
        try:
            barrier.wait()
            raise_alarm_tasks(engine, clock())
        except Exception as err:  # noqa: BLE001 - collected and checked below
            errors.append(err)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(alarm_tasks(engine)) == 3
    with db.transaction() as s:
        assert len(s.scalars(select(RaisedAlarm)).all()) == 3


def test_without_the_alarm_process_deployed_the_alarm_waits_and_is_raised_once_it_is(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    new_case()
    assert raise_alarm_tasks(engine, clock()).raised == []  # logged; nothing lost
    engine.deploy({"staffing-alarm.bpmn": ALARM_BPMN.read_bytes()})
    clock.advance(minutes=15)
    assert len(raise_alarm_tasks(engine, clock()).raised) == 1


def test_polku_scheduler_raises_the_alarm_tasks(db: Database, engine: Engine, clock: TestClock,
                                                new_case: Callable[..., str], database_url: str) -> None:
    engine.deploy({"staffing-alarm.bpmn": ALARM_BPMN.read_bytes()})
    case_id = new_case()  # decided, nobody named: an alarm now, whatever the real clock says
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "test-secret-key-for-cli"}
    process = subprocess.Popen([str(Path(sys.executable).with_name("polku")), "scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: alarm_tasks(engine), "the scheduler's staffing check", timeout=60)
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=90)[0]  # the machine may be busy: a round finishes first
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
            raise AssertionError(f"polku scheduler did not stop on SIGTERM: {output}") from None
    assert process.returncode == 0 and "Traceback" not in output, output
    assert alarm_tasks(engine) == [("no_case_manager", business_key(engine, case_id), "teamLeads")]


def test_the_embedded_scheduler_of_polku_serve_raises_the_alarm_tasks(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    engine.deploy({"staffing-alarm.bpmn": ALARM_BPMN.read_bytes()})
    case_id = new_case()
    settings = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "embedded-test-key",
                                  "POLKU_INFORM_CLIENT_DAYS": "5"})
    checks = start_staffing_checks(engine, settings)  # as `polku serve` starts it beside the timers
    try:
        wait_for(lambda: alarm_tasks(engine), "the embedded staffing check")
    finally:
        checks.shutdown(wait=True)
    assert alarm_tasks(engine) == [("no_case_manager", business_key(engine, case_id), "teamLeads")]


@pytest.mark.usefixtures("alarms_deployed")
def test_how_soon_the_client_must_be_told_is_a_setting(db: Database, engine: Engine, clock: TestClock,
                                                       new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
    clock.advance(days=4)
    patient = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "k" * 20,
                                 "POLKU_INFORM_CLIENT_DAYS": "5"})
    check_staffing(engine, patient)
    assert alarm_tasks(engine) == []
    check_staffing(engine, Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "k" * 20}))
    assert alarm_tasks(engine) == [("client_not_informed", business_key(engine, case_id), "teamLeads")]
