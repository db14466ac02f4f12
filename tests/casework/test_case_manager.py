"""Case manager assignments: history, exactly one current, deactivation as the loudest alarm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import IntegrityError

from casework.case_manager import (
    Assignment,
    AssignmentReason,
    assign,
    assignment_history,
    cases_without_case_manager,
    confirm_handover,
    current_case_manager,
    deactivate_user,
    record_client_informed,
)
from casework.client_case import ClosureReason, get_case
from casework.errors import Refused
from casework.handover import close_case
from casework.staffing import AlarmKind, Severity, staffing_alarms
from engine.db import Database

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
