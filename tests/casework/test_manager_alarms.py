"""casework.manager_alarms: each alarm of the management view counts and lists exactly the cases it should."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework.case_manager import AssignmentReason, assign, deactivate_user, record_client_informed
from casework.client import register_client
from casework.client_case import open_case, record_decision
from casework.consent import ConsentMethod, record_consent
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.manager_alarms import AlarmKind, AlarmSettings, alarm, manager_alarms
from casework.network import PartnerKind, add_partner
from casework.plan import Goal, ItemKind, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import record_answer, record_referral
from casework.staffing import AlarmKind as StaffingKind
from casework.staffing import Severity, staffing_alarms
from casework.stalls import EVERYTHING, Scope
from casework.teams import add_team
from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process

pytestmark = pytest.mark.usefixtures("staff")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REVIEW = process("review_case", '<bpmn:startEvent id="start"/>'
                 '<bpmn:userTask id="follow_up_review" name="Follow-up" camunda:dueDate="${reviewDue}"/>'
                 '<bpmn:endEvent id="end"/>' + chain("start", "follow_up_review", "end"))
TIMER = process("timer_case", '<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="follow_up_due">'
                '<bpmn:timerEventDefinition><bpmn:timeDate>${timerDue}</bpmn:timeDate></bpmn:timerEventDefinition>'
                '</bpmn:intermediateCatchEvent><bpmn:endEvent id="end"/>' + chain("start", "follow_up_due", "end"))
JOB = process("job_case", '<bpmn:startEvent id="start"/><bpmn:serviceTask id="send" camunda:type="external" '
              'camunda:topic="send"/><bpmn:endEvent id="end"/>' + chain("start", "send", "end"))
SETTINGS = AlarmSettings(inform_within=timedelta(days=3), idle_after=timedelta(days=9))


class World:
    def __init__(self, engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> None:
        self.engine, self.clock, self.keys = engine, clock, keys
        self.cases: dict[str, str] = {}

    def case(self, label: str, team: str, key: str = "review_case", decided: bool = True,
             **variables: object) -> str:
        n = len(self.cases)
        case_id = self.engine.start(key, f"TKT-{n}", {"reviewDue": None, **variables})
        with self.engine.db.transaction() as s:
            client = register_client(s, self.keys, name=f"Testi Asiakas {n}",
                                     identity_code=fictitious_code(date(1980, 1, 1), 900 + n), at=self.clock())
            record = open_case(s, case_id, client.id, self.clock())
            record.team_id = team
            record.municipality = "Espoo" if team == "north" else "Vantaa"
            if decided:
                record_decision(s, case_id, needs_case_manager=True, at=self.clock())
        self.cases[label] = case_id
        return case_id

    def number(self, label: str) -> str:
        return f"TKT-{list(self.cases).index(label)}"


@pytest.fixture
def world(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> World:
    """Ten cases, each raising (or deliberately not raising) one alarm; now is day 10."""
    engine.deploy({"review.bpmn": REVIEW, "timer.bpmn": TIMER, "job.bpmn": JOB})
    w = World(engine, clock, keys)
    clock.now = T0
    with engine.db.transaction() as s:
        add_team(s, "north", "North", clock())
        add_team(s, "south", "South", clock())
    w.case("none", "north")  # decided, nobody named: since the decision (day 0)
    w.case("undecided", "north", decided=False)  # not decided yet: no alarm for the case manager
    deactivated = w.case("deactivated", "north")
    review_late = w.case("review_late", "north", reviewDue=(T0 + timedelta(days=5)).isoformat())
    w.case("review_on_time", "north", reviewDue=(T0 + timedelta(days=15)).isoformat())
    w.case("timer_late", "south", key="timer_case", timerDue=(T0 + timedelta(days=6)).isoformat())
    w.case("timer_soon", "south", key="timer_case", timerDue=(T0 + timedelta(days=10, minutes=-30)).isoformat())
    referral = w.case("referral", "south")
    job_case = w.case("incident", "south", key="job_case")
    with engine.db.transaction() as s:
        for label in ("deactivated", "review_late", "review_on_time", "timer_late", "timer_soon", "referral",
                      "incident"):
            assign(s, w.cases[label], "cecilia" if label != "deactivated" else "bertta", AssignmentReason.INITIAL,
                   clock())
            record_client_informed(s, w.cases[label], clock())
        partner_id = add_partner(s, "Kuvitteellinen työpaja ry", PartnerKind.NGO, email="paja@example.invalid").id
        plan = save_plan(s, referral, PlanDraft(
            goals=[Goal("Työkokeilu", date(2026, 4, 1), "cecilia", main=True)],
            services=[PlannedService(ServiceType.REHABILITATIVE_WORK_ACTIVITY, "Paja", "Ohjaaja", date(2026, 1, 12),
                                     partner_id=partner_id),  # start due day 7: unanswered on day 10
                      PlannedService(ServiceType.REHABILITATIVE_WORK_ACTIVITY, "Paja", "Ohjaaja", date(2026, 1, 12),
                                     partner_id=partner_id),  # answered: accepted
                      PlannedService(ServiceType.REHABILITATIVE_WORK_ACTIVITY, "Paja", "Ohjaaja", date(2026, 1, 25),
                                     partner_id=partner_id)]),  # start due later
            by="cecilia", at=clock())
        from casework.client_case import get_case

        consent = record_consent(s, get_case(s, referral).client_id, partner_id, "ohjaus", clock(),
                                 recorded_by="cecilia", method=ConsentMethod.WRITTEN)
        services = [i for i in plan.items if i.kind is ItemKind.SERVICE]
        rows = [record_referral(s, item, referral, by="cecilia", consent_id=consent.id, at=clock())
                for item in services]
        assert rows[1].referral_id is not None
        record_answer(s, rows[1].referral_id, "accepted", None, "paja.ohjaaja", clock())
    [job] = engine.fetch_and_lock("w1", [TopicRequest("send")])
    assert engine.fail_job(job.id, "w1", "mail server down", "trace", retries=0).incident
    clock.now = T0 + timedelta(days=2)
    w.case("not_told", "north")  # named on day 2, never told: alarms after 3 days
    with engine.db.transaction() as s:
        assign(s, w.cases["not_told"], "aino", AssignmentReason.INITIAL, clock())
    clock.now = T0 + timedelta(days=4)
    with engine.db.transaction() as s:
        deactivate_user(s, "bertta", clock())
    clock.now = T0 + timedelta(days=10)
    assert deactivated and review_late and job_case
    return w


def listed(w: World, kind: AlarmKind, scope: Scope = EVERYTHING) -> list[tuple[str | None, datetime, str | None]]:
    with w.engine.db.read() as s:
        found = alarm(s, kind, w.clock(), scope, SETTINGS)
    assert found.count == len(found.items)
    return [(i.business_key, i.since, i.detail) for i in found.items]


def test_each_alarm_lists_its_cases_with_since_and_detail(world: World) -> None:
    w = world
    day = lambda n: T0 + timedelta(days=n)  # noqa: E731
    assert listed(w, AlarmKind.NO_CASE_MANAGER) == [(w.number("none"), day(0), None)]
    assert listed(w, AlarmKind.DEACTIVATED_CASE_MANAGER) == [(w.number("deactivated"), day(4), None)]
    assert listed(w, AlarmKind.CLIENT_NOT_INFORMED) == [(w.number("not_told"), day(2), None)]
    # every case but the one opened on day 2 has not moved since day 0 (9 days is the limit)
    assert [k for k, _, _ in listed(w, AlarmKind.IDLE)] == [w.number(label) for label in w.cases
                                                           if label != "not_told"]
    assert listed(w, AlarmKind.FOLLOW_UP_OVERDUE) == [(w.number("review_late"), day(5), "follow_up_review"),
                                                      (w.number("timer_late"), day(6), "follow_up_due")]
    assert listed(w, AlarmKind.REFERRAL_UNANSWERED) == [(w.number("referral"), day(0), "2026-01-12")]
    assert listed(w, AlarmKind.INCIDENT) == [(w.number("incident"), day(0), "send")]


def test_all_alarms_in_order_loudest_first_with_counts(world: World) -> None:
    with world.engine.db.read() as s:
        alarms = manager_alarms(s, world.clock(), settings=SETTINGS)
    assert [(a.kind, a.severity, a.count) for a in alarms] == [
        (AlarmKind.NO_CASE_MANAGER, Severity.CRITICAL, 1),
        (AlarmKind.DEACTIVATED_CASE_MANAGER, Severity.CRITICAL, 1),
        (AlarmKind.CLIENT_NOT_INFORMED, Severity.WARNING, 1),
        (AlarmKind.IDLE, Severity.WARNING, 9),
        (AlarmKind.FOLLOW_UP_OVERDUE, Severity.HIGH, 2),
        (AlarmKind.REFERRAL_UNANSWERED, Severity.HIGH, 1),
        (AlarmKind.INCIDENT, Severity.HIGH, 1)]


def test_the_case_manager_alarms_agree_with_the_staffing_alarms(world: World) -> None:
    """The same invariant as casework.staffing (which turns these into team lead tasks), counted in SQL."""
    kinds = {AlarmKind.NO_CASE_MANAGER: StaffingKind.NO_CASE_MANAGER,
             AlarmKind.DEACTIVATED_CASE_MANAGER: StaffingKind.DEACTIVATED_CASE_MANAGER,
             AlarmKind.CLIENT_NOT_INFORMED: StaffingKind.CLIENT_NOT_INFORMED}
    with world.engine.db.read() as s:
        staffing = staffing_alarms(s, world.clock(), inform_within=SETTINGS.inform_within)
        for ours, theirs in kinds.items():
            found = alarm(s, ours, world.clock(), settings=SETTINGS)
            assert sorted((i.case_id, i.since) for i in found.items) == sorted(
                (a.case_id, a.since) for a in staffing if a.kind is theirs), ours


def test_the_scope_limits_every_alarm_to_the_teams_and_municipality(world: World) -> None:
    w = world
    north = Scope(frozenset({"north"}))
    south = Scope(frozenset({"south"}))
    with w.engine.db.read() as s:
        counts = {scope: [a.count for a in manager_alarms(s, w.clock(), scope, SETTINGS)]
                  for scope in (north, south, Scope(None, "vantaa"), Scope(frozenset({"north"}), "Vantaa"))}
    assert counts[north] == [1, 1, 1, 5, 1, 0, 0]
    assert counts[south] == [0, 0, 0, 4, 1, 1, 1]
    assert counts[Scope(None, "vantaa")] == counts[south]
    assert counts[Scope(frozenset({"north"}), "Vantaa")] == [0] * 7


def test_settings_come_from_the_app_config_with_defaults() -> None:
    assert AlarmSettings.from_config({}) == AlarmSettings(timedelta(days=3), timedelta(days=30))
    assert AlarmSettings.from_config({"INFORM_CLIENT_DAYS": 5, "IDLE_CASE_DAYS": "14"}) == AlarmSettings(
        timedelta(days=5), timedelta(days=14))


def test_alarms_clear_when_the_cases_are_put_right(world: World) -> None:
    w = world
    with w.engine.db.transaction() as s:
        assign(s, w.cases["none"], "cecilia", AssignmentReason.TEAM_DECISION, w.clock(), by="tiina")
        assign(s, w.cases["deactivated"], "aino", AssignmentReason.DEACTIVATED, w.clock(), by="tiina")
        record_client_informed(s, w.cases["not_told"], w.clock())
    [task] = [t for t in w.engine.open_tasks(w.cases["review_late"]) if t.element_id == "follow_up_review"]
    w.engine.complete_task(task.id)
    assert listed(w, AlarmKind.NO_CASE_MANAGER) == []
    assert listed(w, AlarmKind.DEACTIVATED_CASE_MANAGER) == []
    # the new assignments were not told yet, but three days have not passed
    assert listed(w, AlarmKind.CLIENT_NOT_INFORMED) == []
    assert [k for k, _, _ in listed(w, AlarmKind.FOLLOW_UP_OVERDUE)] == [w.number("timer_late")]
    assert w.number("review_late") not in [k for k, _, _ in listed(w, AlarmKind.IDLE)]
