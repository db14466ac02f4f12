"""Case manager assignments: history, exactly one current, deactivation as the loudest alarm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import IntegrityError

from casework.case_manager import (
    Assignment,
    AssignmentReason,
    assign,
    assignment_history,
    case_manager_now,
    cases_without_case_manager,
    confirm_handover,
    current_case_manager,
    deactivate_user,
    record_client_informed,
)
from casework.client_case import ClosureReason, get_case, open_case
from casework.errors import Refused
from casework.handover import close_case
from casework.identity_code import IdentityCodeKeys
from casework.notification import messages_of_case
from casework.staffing import AlarmKind, Severity, staffing_alarms
from casework.users import Unit, get_user
from engine.db import Database
from engine.runtime import Engine
from tests.diagrams import chain, flow, process
from tests.scenarios.conftest import BROAD, make_world
from workers.builtins import load
from workers.runner import run_until_idle
from workers.services import Services

if TYPE_CHECKING:
    from tests.conftest import TestClock

pytestmark = pytest.mark.usefixtures("staff")


def test_a_change_keeps_the_history_and_one_current(db: Database, clock: TestClock,
                                                    new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock(), by="tiina")
    clock.advance(days=30)
    with db.transaction() as s:
        assign(s, case_id, "cecilia", AssignmentReason.STAFF_LEAVING, clock(), by="tiina", note="Aino retires")
    clock.advance(days=2)
    with db.transaction() as s:
        confirm_handover(s, case_id, "aino", clock())
        confirm_handover(s, case_id, "cecilia", clock())
        record_client_informed(s, case_id, clock())
    with db.transaction() as s:
        history = assignment_history(s, case_id)
        assert [(a.user_name, a.reason, a.ended_reason) for a in history] == [
            ("Aino Esimerkki", AssignmentReason.INITIAL, AssignmentReason.STAFF_LEAVING),
            ("Cecilia Testinen", AssignmentReason.STAFF_LEAVING, None)]
        assert history[0].to_at == history[1].from_at  # no gap between the two
        current = current_case_manager(s, case_id)
        assert current is not None and current.user_id == "cecilia"
        assert current.handover_confirmed_by_old_at and current.handover_confirmed_by_new_at
        assert current.client_informed_at == clock()


def test_only_a_named_active_person_with_the_role_can_be_case_manager(db: Database, clock: TestClock,
                                                                    new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with pytest.raises(Refused, match="no coordinator or case manager role"), db.transaction() as s:
        assign(s, case_id, "tiina", AssignmentReason.INITIAL, clock())
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
    with pytest.raises(Refused, match="already the case manager"), db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.WORKLOAD, clock())
    with db.transaction() as s:
        deactivate_user(s, "bertta", clock())
    with pytest.raises(Refused, match="deactivated"), db.transaction() as s:
        assign(s, case_id, "bertta", AssignmentReason.WORKLOAD, clock())


def test_the_database_refuses_a_second_current_case_manager(db: Database, clock: TestClock,
                                                            new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        first = assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(Assignment(case_id=case_id, client_id=first.client_id, user_id="bertta", user_name="Bertta",
                         from_at=clock(), reason=AssignmentReason.WORKLOAD))


def test_two_team_leads_assigning_at_once_leave_exactly_one_current(db: Database, clock: TestClock,
                                                                    new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        assign(s, case_id, "cecilia", AssignmentReason.INITIAL, clock())
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def change_to(user_id: str) -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                assign(s, case_id, user_id, AssignmentReason.WORKLOAD, clock())
        except Exception as err:  # noqa: BLE001 - collected and checked below
            errors.append(err)

    threads = [threading.Thread(target=change_to, args=(u,)) for u in ("aino", "bertta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.transaction() as s:
        history = assignment_history(s, case_id)
        assert len(history) == 3
        assert [a for a in history if a.to_at is None] == [current_case_manager(s, case_id)]
        assert {a.user_id for a in history[1:]} == {"aino", "bertta"}


def test_a_deactivated_case_manager_is_the_loudest_alarm_until_reassigned(db: Database, clock: TestClock,
                                                                         new_case: Callable[..., str]) -> None:
    cases = [new_case(), new_case(), new_case()]
    with db.transaction() as s:
        assign(s, cases[0], "aino", AssignmentReason.INITIAL, clock())
        assign(s, cases[1], "aino", AssignmentReason.INITIAL, clock())
        assign(s, cases[2], "bertta", AssignmentReason.INITIAL, clock())
        for case_id in cases:
            record_client_informed(s, case_id, clock())
    clock.advance(days=1)
    with db.transaction() as s:
        assert sorted(deactivate_user(s, "aino", clock())) == sorted(cases[:2])
        assert get_case(s, cases[0]).change_reason == "deactivated"
    clock.advance(days=10)
    with db.transaction() as s:
        alarms = staffing_alarms(s, clock())
        assert {(a.case_id, a.kind) for a in alarms} == {(c, AlarmKind.DEACTIVATED_CASE_MANAGER) for c in cases[:2]}
        assert all(a.severity is Severity.CRITICAL and a.user_id == "aino" for a in alarms)
        assert cases_without_case_manager(s) == []  # the history shows no gap: Aino is still on record
    with db.transaction() as s:
        assign(s, cases[0], "cecilia", AssignmentReason.DEACTIVATED, clock(), by="tiina")
        record_client_informed(s, cases[0], clock())
    with db.transaction() as s:
        assert [a.case_id for a in staffing_alarms(s, clock())] == [cases[1]]


def test_a_decided_case_without_case_manager_is_listed_and_closed_cases_are_not(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    waiting, undecided, managed = new_case(), new_case(decided=False), new_case()
    with db.transaction() as s:
        assign(s, managed, "aino", AssignmentReason.INITIAL, clock())
        record_client_informed(s, managed, clock())
    with db.transaction() as s:
        assert cases_without_case_manager(s) == [waiting]
        [alarm] = staffing_alarms(s, clock())
        assert (alarm.kind, alarm.severity, alarm.case_id) == (AlarmKind.NO_CASE_MANAGER, Severity.CRITICAL, waiting)
    with pytest.raises(Refused, match="next responsible"), db.transaction() as s:
        close_case(s, managed, ClosureReason.EMPLOYMENT, clock())
    with db.transaction() as s:
        close_case(s, managed, ClosureReason.EMPLOYMENT, clock(), next_responsible="Työterveyshuolto, Oy Esimerkki Ab")
        close_case(s, waiting, ClosureReason.MOVED_AWAY, clock())
    with db.transaction() as s:
        assert cases_without_case_manager(s) == [] and staffing_alarms(s, clock()) == []
        assert current_case_manager(s, managed) is None
        assert assignment_history(s, managed)[-1].ended_reason is AssignmentReason.CASE_CLOSED
    assert undecided


def test_a_client_not_told_of_the_change_is_flagged(db: Database, clock: TestClock,
                                                   new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
    clock.advance(days=4)
    with db.transaction() as s:
        assert [a.kind for a in staffing_alarms(s, clock())] == [AlarmKind.CLIENT_NOT_INFORMED]
        record_client_informed(s, case_id, clock())
        assert staffing_alarms(s, clock()) == []


def test_the_assignment_keeps_the_case_managers_title_and_unit_as_they_were(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        official = get_user(s, "cecilia")
        official.title, official.unit = "työllisyysasiantuntija", Unit.EMPLOYMENT_SERVICES
        assign(s, case_id, "cecilia", AssignmentReason.INITIAL, clock())
    with db.transaction() as s:
        get_user(s, "cecilia").title = "palveluohjaaja"  # a later change of title does not rewrite the history
    with db.transaction() as s:
        [assignment] = assignment_history(s, case_id)
        assert (assignment.user_title, assignment.user_unit) == ("työllisyysasiantuntija", Unit.EMPLOYMENT_SERVICES)


def test_mail_for_a_former_case_manager_of_the_case_goes_to_the_current_one(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id, other = new_case(), new_case()
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
        assign(s, other, "bertta", AssignmentReason.INITIAL, clock())
        assert case_manager_now(s, case_id, "aino") == "aino"
    clock.advance(days=1)
    with db.transaction() as s:
        assign(s, case_id, "cecilia", AssignmentReason.WORKLOAD, clock())
    with db.transaction() as s:
        assert case_manager_now(s, case_id, "aino") == "cecilia"  # she was its case manager
        assert case_manager_now(s, case_id, "tiina") == "tiina"  # the team lead was never: left as named
        assert case_manager_now(s, other, "aino") == "aino"  # another case is not concerned


# A case with the shape of bpmn/ (kept small so that it holds whatever the process owners change): the case
# manager named, a called service coordination that copies `caseManager` and, after a wait, alerts the case
# manager and gives them a task; a follow-up reminder in the main scope; the change flow of the main diagram.
_CHANGE_FLOW = (
    '<bpmn:subProcess id="change" triggeredByEvent="true">'
    '<bpmn:startEvent id="change_requested" isInterrupting="false">'
    '<bpmn:messageEventDefinition messageRef="msg_change"/></bpmn:startEvent>'
    '<bpmn:userTask id="name_new_case_manager" camunda:candidateGroups="teamLeads"/>'
    '<bpmn:serviceTask id="record_case_manager_change" camunda:type="external" camunda:topic="record-assignment">'
    '<bpmn:extensionElements><camunda:inputOutput>'
    '<camunda:inputParameter name="assignedCaseManager">${newCaseManager}</camunda:inputParameter>'
    '<camunda:inputParameter name="previousCaseManager">${caseManager}</camunda:inputParameter>'
    '<camunda:inputParameter name="assignmentReason">${changeReason}</camunda:inputParameter>'
    '<camunda:outputParameter name="caseManager">${newCaseManager}</camunda:outputParameter>'
    '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>'
    '<bpmn:endEvent id="changed"/>'
    + chain("change_requested", "name_new_case_manager", "record_case_manager_change", "changed")
    + '</bpmn:subProcess>')
_NOTIFY = ('<bpmn:serviceTask id="{id}" camunda:type="external" camunda:topic="staff-notification">'
           '<bpmn:extensionElements><camunda:inputOutput>'
           '<camunda:inputParameter name="notificationType">{kind}</camunda:inputParameter>'
           '<camunda:inputParameter name="recipient">${{caseManager}}</camunda:inputParameter>'
           '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>')
_TIMER = ('<bpmn:intermediateCatchEvent id="{id}"><bpmn:timerEventDefinition>'
          '<bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
MAIN = process(
    "cm_main",
    '<bpmn:startEvent id="start"/>'
    '<bpmn:serviceTask id="record_assignment" camunda:type="external" camunda:topic="record-assignment">'
    '<bpmn:extensionElements><camunda:inputOutput>'
    '<camunda:inputParameter name="assignedCaseManager">${caseManager}</camunda:inputParameter>'
    '</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>'
    '<bpmn:parallelGateway id="split"/>'
    '<bpmn:callActivity id="coordinate" calledElement="cm_coordination"><bpmn:extensionElements>'
    '<camunda:in source="caseManager" target="caseManager"/></bpmn:extensionElements></bpmn:callActivity>'
    '<bpmn:endEvent id="coordinated"/>'
    '<bpmn:userTask id="follow_up_review" camunda:assignee="${caseManager}"/>'
    + _TIMER.format(id="follow_up_reminder_due", duration="P60D")
    + _NOTIFY.format(id="follow_up_reminder", kind="follow-up-reminder")
    + '<bpmn:endEvent id="reminded"/>'
    + chain("start", "record_assignment", "split", "coordinate", "coordinated")
    + chain("split", "follow_up_reminder_due", "follow_up_reminder", "reminded")
    + flow("f_review", "split", "follow_up_review") + _CHANGE_FLOW,
    extra='<bpmn:message id="msg_change" name="caseManagerChange"/>')
COORDINATION = process(
    "cm_coordination",
    '<bpmn:startEvent id="requested"/>' + _TIMER.format(id="start_overdue", duration="P30D")
    + _NOTIFY.format(id="overdue_alert", kind="service-start-overdue")
    + '<bpmn:userTask id="chase_partner" camunda:assignee="${caseManager}"/><bpmn:endEvent id="chased"/>'
    + chain("requested", "start_overdue", "overdue_alert", "chase_partner", "chased"))


def test_a_change_in_the_middle_of_service_coordination_sends_the_next_alert_and_reminder_to_the_new_one(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str],
        keys: IdentityCodeKeys) -> None:
    engine.deploy({"cm_main.bpmn": MAIN, "cm_coordination.bpmn": COORDINATION})
    services = Services(db, clock, keys, None, engine)
    registry = load()
    holder = new_case()  # the client's casework record; the process below runs as the client's case
    with db.transaction() as s:
        client_id = get_case(s, holder).client_id
        close_case(s, holder, ClosureReason.MOVED_AWAY, clock())
    case_id = engine.start("cm_main", business_key="CM-1", variables={"caseManager": "aino"})
    with db.transaction() as s:
        open_case(s, case_id, client_id, clock())
    run_until_idle(engine, registry, services)
    assert {t.element_id: t.assignee for t in engine.open_tasks(case_id)} == {"follow_up_review": "aino"}

    engine.correlate("caseManagerChange", case_id=case_id, variables={"changeRequestedBy": "tiina"})
    [naming] = [t for t in engine.open_tasks(case_id) if t.element_id == "name_new_case_manager"]
    engine.complete_task(naming.id, {"newCaseManager": "bertta", "changeReason": "workload"}, actor="tiina")
    run_until_idle(engine, registry, services)

    # her open task moved, with its history saying why
    [review] = engine.open_tasks(case_id)
    assert review.assignee == "bertta"
    assert [(h.kind, h.from_value, h.to_value) for h in engine.task_history(review.id)][-1] == (
        "reassign", "aino", "bertta")
    # the called coordination's alert and the task after it, and the main reminder, go to the new one
    for element in ("start_overdue", "follow_up_reminder_due"):
        for timer_id, due in engine.waiting_timers(case_id, element):
            clock.now = max(clock.now, due)
            engine.fire_timer(timer_id, at=clock.now)
        run_until_idle(engine, registry, services)
    with db.transaction() as s:
        mail = [(m.recipient, m.subject) for m in messages_of_case(s, case_id)]
    assert [recipient for recipient, _ in mail] == ["staff:bertta", "staff:bertta"]
    assert {t.element_id: t.assignee for t in engine.open_tasks(case_id)} == {
        "follow_up_review": "bertta", "chase_partner": "bertta"}
    with db.transaction() as s:
        assert [a.user_id for a in assignment_history(s, case_id)] == ["aino", "bertta"]


def test_with_bpmn_a_change_during_service_coordination_hands_everything_to_the_new_case_manager(
        engine: Engine, clock: TestClock) -> None:
    """The real process: her open consent task moves, and whatever the called coordinations and the follow-up
    ask of the case manager later (chasing a silent partner, alerts, reminders, reviews) asks the new one."""
    world = make_world(engine, clock)
    case = world.refer("Koe Kinnunen")
    world.task(case, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": "koordinaattori.anna"},
               actor="koordinaattori.anna")
    world.consent(case, "employment")  # none for the health station yet: a consent task for her
    world.task(case, "make_plan", world.plan("employment", "health"), actor="koordinaattori.anna")
    assert [(t.element_id, t.assignee) for t in engine.open_tasks(case)] == [
        ("obtain_consent", "koordinaattori.anna")]
    mailed_before = len(world.mail(case))

    world.message("caseManagerChange", case, changeRequestedBy="esihenkilo.maria")
    world.task(case, "name_new_case_manager", {"newCaseManager": "koordinaattori.ville", "changeReason": "workload"},
               actor="esihenkilo.maria")
    world.task(case, "confirm_handover_old", {"handoverNotesOld": "Tavattu yhdessä",
                                              "jointMeetingDate": clock.now.date().isoformat()},
               actor="koordinaattori.anna")
    world.task(case, "confirm_handover_new", {"handoverConfirmed": True}, actor="koordinaattori.ville")
    assert {t.assignee for t in engine.open_tasks(case) if t.assignee} == {"koordinaattori.ville"}

    for _ in range(4):  # the partner stays silent: every timer of the case runs out, one after another
        for timer_id, due in engine.waiting_timers(case)[:1]:
            clock.now = max(clock.now, due + timedelta(minutes=1))
            engine.fire_timer(timer_id, at=clock.now)
            world.work()
    later = [t for t in engine.open_tasks(case) if t.assignee]
    assert len(later) >= 2 and {t.assignee for t in later} == {"koordinaattori.ville"}, later
    staff_mail = [r for r in world.mail(case)[mailed_before:] if r.startswith("staff:")]
    assert "staff:koordinaattori.anna" not in staff_mail
