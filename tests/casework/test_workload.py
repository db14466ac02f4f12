"""casework.workload: active cases, open and overdue tasks and follow-up intervals per case manager and per team
with known data, and rebalancing refused or in conflict where it must be (the started change flow itself runs
through bpmn/ in tests/webapp/test_manage_flow.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_manager import Assignment, AssignmentReason
from casework.client import register_client
from casework.client_case import CaseStatus, ClientCase, open_case
from casework.errors import Refused
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.plan import PlanVersion
from casework.staff import Staff
from casework.stalls import Scope
from casework.teams import add_member, add_team
from casework.users import Role, add_user
from casework.workload import NO_PLAN, Outcome, cases_of, may_rebalance, rebalance, workload
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NORTH = Scope(frozenset({"north"}))
LEAD = Staff(id="lead", name="Lea Lead", roles=frozenset({Role.TEAM_LEAD}), teams=frozenset({"north"}),
             groups=frozenset(), leads=frozenset({"north"}))
# case: team, current case manager (None: closed), earlier case manager, plan intervals (versions in order),
# task assignee and due in days from now (None: no due date)
CASES = {
    "W-0": ("north", "cm1", None, [1, 6], "cm1", -1),
    "W-1": ("north", "cm1", None, [3], "cm1", 5),
    "W-2": ("north", "cm1", None, [], "cm1", None),
    "W-3": ("north", "cm2", None, [12], "cm2", -2),
    "W-4": ("south", "cm3", None, [3], "cm3", 1),
    "W-5": ("north", None, "cm1", [], "cm1", 3),  # closed: no active case, its open task still counts
    "W-6": ("north", "cm1", "cm2", [], "cm1", 2),  # handed from cm2 to cm1
}


@pytest.fixture
def ids(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> dict[str, str]:
    engine.deploy({"work.bpmn": process("work", '<bpmn:startEvent id="s"/><bpmn:userTask id="do" '
                                        'camunda:assignee="${who}" camunda:dueDate="${due}"/><bpmn:endEvent id="e"/>'
                                        + chain("s", "do", "e"))})
    clock.now = T0
    with engine.db.transaction() as s:
        add_team(s, "north", "North", T0)
        add_team(s, "south", "South", T0)
        for user, team, roles in [("cm1", "north", [Role.CASE_MANAGER]), ("cm2", "north", [Role.COORDINATOR]),
                                  ("cm3", "south", [Role.CASE_MANAGER]), ("lead", "north", [Role.TEAM_LEAD])]:
            add_user(s, user, user.upper(), roles, T0)
            add_member(s, team, user)
    out = {}
    for n, (key, (team, current, earlier, plans, who, due)) in enumerate(CASES.items()):
        case_id = engine.start("work", key, {"who": who, "due": (T0 + timedelta(days=due)).isoformat()
                                             if due is not None else None})
        with engine.db.transaction() as s:
            client = register_client(s, keys, name=f"Testi {n}", identity_code=fictitious_code(date(1970, 1, 1),
                                                                                               960 + n), at=T0)
            record = open_case(s, case_id, client.id, T0)
            record.team_id, record.decided_at, record.needs_case_manager = team, T0, True
            if earlier:
                s.add(Assignment(case_id=case_id, client_id=client.id, user_id=earlier, user_name=earlier,
                                 from_at=T0, to_at=T0 + timedelta(hours=1), reason=AssignmentReason.INITIAL))
            if current:
                s.add(Assignment(case_id=case_id, client_id=client.id, user_id=current, user_name=current,
                                 from_at=T0 + timedelta(hours=1), reason=AssignmentReason.INITIAL))
            else:
                record.status, record.closed_at = CaseStatus.CLOSED, T0 + timedelta(hours=2)
            for version, months in enumerate(plans, 1):
                s.add(PlanVersion(case_id=case_id, version=version, follow_up_months=months, starting_situation={},
                                  client_view="", division_of_labour="", created_by="cm", created_at=T0))
        out[key] = case_id
    return out


def test_per_case_manager_and_per_team_with_the_current_plans_interval(engine: Engine, ids: dict[str, str]) -> None:
    with engine.db.read() as s:
        north = workload(s, NORTH, T0)
        every = workload(s, Scope(), T0)
    assert north.intervals == [1, 3, 6, 12, NO_PLAN]
    people = {p.key: (p.name, p.active_cases, p.open_tasks, p.overdue_tasks, p.by_interval) for p in north.people}
    assert people == {"cm1": ("CM1", 4, 5, 1, {6: 1, 3: 1, NO_PLAN: 2}),
                      "cm2": ("CM2", 1, 1, 1, {12: 1})}
    assert [p.key for p in north.people] == ["cm1", "cm2"]  # the most cases first
    [team] = north.teams
    assert (team.key, team.name, team.active_cases, team.open_tasks, team.overdue_tasks, team.by_interval) == (
        "north", "North", 5, 6, 2, {6: 1, 3: 1, 12: 1, NO_PLAN: 2})
    assert {p.key: p.active_cases for p in every.people} == {"cm1": 4, "cm2": 1, "cm3": 1}
    assert {t.key: (t.active_cases, t.open_tasks) for t in every.teams} == {"north": (5, 6), "south": (1, 1)}
    with engine.db.read() as s:  # a week on, every task with a due date is overdue
        later = {p.key: p.overdue_tasks for p in workload(s, NORTH, T0 + timedelta(days=7)).people}
    assert later == {"cm1": 4, "cm2": 1}


def test_cases_of_a_case_manager_are_their_active_cases_in_scope(engine: Engine, ids: dict[str, str]) -> None:
    with engine.db.read() as s:
        assert [(c.business_key, c.follow_up_months) for c in cases_of(s, "cm1", NORTH)] == [
            ("W-0", 6), ("W-1", 3), ("W-2", None), ("W-6", None)]
        assert cases_of(s, "cm3", NORTH) == []
        assert [c.business_key for c in cases_of(s, "cm3")] == ["W-4"]


def test_rebalancing_refuses_other_teams_cases_and_reports_conflicts(engine: Engine, ids: dict[str, str]) -> None:
    assert may_rebalance(LEAD)
    results = rebalance(engine, LEAD, ["W-4", "NOPE", "W-5", "W-2", "W-2"], AssignmentReason.WORKLOAD, "Kuorma")
    assert [(r.business_key, r.outcome, r.detail) for r in results] == [
        ("W-4", Outcome.REFUSED, "not a case of a team you lead"),
        ("NOPE", Outcome.REFUSED, "no such case"),
        ("W-5", Outcome.CONFLICT, "the case has no case manager to change"),
        # this test process has no change flow to start: nothing is left marked for a change
        ("W-2", Outcome.CONFLICT, "the process cannot start a change of case manager now"),
    ]
    with engine.db.read() as s:
        record = s.get(ClientCase, ids["W-2"])
        assert record is not None and record.change_requested_at is None
        logged = s.execute(select(AccessLogEntry.case_id, AccessLogEntry.action)
                           .where(AccessLogEntry.user_id == "lead")).all()
    assert sorted(logged) == sorted([(ids["W-4"], AccessAction.DENIED), (ids["W-5"], AccessAction.UPDATE),
                                     (ids["W-2"], AccessAction.UPDATE)])
    member = Staff(id="cm1", name="CM1", roles=frozenset({Role.CASE_MANAGER}), teams=frozenset({"north"}),
                   groups=frozenset(), leads=frozenset())
    assert not may_rebalance(member)
    assert [r.outcome for r in rebalance(engine, member, ["W-1"], AssignmentReason.WORKLOAD, "x")] == [Outcome.REFUSED]
    with pytest.raises(Refused):
        rebalance(engine, LEAD, ["W-1"], AssignmentReason.INITIAL, "x")
