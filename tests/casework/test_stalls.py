"""casework.stalls: where cases wait now per BPMN step, with known ages, percentiles and overdue counts.

The same figures on SQLite (percentiles in Python) and PostgreSQL (percentile_cont): run with POLKU_TEST_POSTGRES.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework.client import register_client
from casework.client_case import open_case
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.stalls import Scope, StepStall, percentile_cont, step_stalls, waiting_cases
from casework.teams import add_team
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, flow, process

MESSAGES = '<bpmn:message id="m_reply" name="clientReplied"/><bpmn:message id="m_change" name="changeRequested"/>'
# Every case waits at five places at once: a user task, a job, a timer and a message behind an event-based
# gateway, and a user task of the called process.
SUPPORT = (
    '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>'
    '<bpmn:userTask id="review" name="Review" camunda:candidateGroups="coordinators" '
    'camunda:dueDate="${reviewDue}"/>'
    '<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="notify"/>'
    '<bpmn:eventBasedGateway id="wait_gw" name="Wait for the client"/>'
    '<bpmn:intermediateCatchEvent id="reminder_due" name="Reminder due"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration>P30D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    '<bpmn:intermediateCatchEvent id="client_replied" name="Client replied">'
    '<bpmn:messageEventDefinition messageRef="m_reply"/></bpmn:intermediateCatchEvent>'
    '<bpmn:callActivity id="coordinate" name="Coordinate" calledElement="coordination"/>'
    # these accompany the waits above (a deadline on the task; a listener for as long as the case runs): not steps
    '<bpmn:boundaryEvent id="review_late" attachedToRef="review" cancelActivity="false"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration>P40D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
    '<bpmn:userTask id="chase"/><bpmn:endEvent id="chased"/>'
    '<bpmn:subProcess id="change" triggeredByEvent="true">'
    '<bpmn:startEvent id="change_requested" isInterrupting="false">'
    '<bpmn:messageEventDefinition messageRef="m_change"/></bpmn:startEvent><bpmn:userTask id="change_task"/>'
    '<bpmn:endEvent id="changed"/>' + chain("change_requested", "change_task", "changed") + '</bpmn:subProcess>'
    + "".join(f'<bpmn:endEvent id="e{n}"/>' for n in range(1, 6))
    + chain("start", "split") + flow("a", "split", "review") + flow("b", "split", "notify")
    + flow("c", "split", "wait_gw") + flow("d", "split", "coordinate") + chain("review", "e1") + chain("notify", "e2")
    + flow("g1", "wait_gw", "reminder_due") + flow("g2", "wait_gw", "client_replied")
    + chain("reminder_due", "e3") + chain("client_replied", "e4") + chain("coordinate", "e5")
    + chain("review_late", "chase", "chased"))
COORDINATION = ('<bpmn:startEvent id="c_start"/><bpmn:userTask id="arrange" name="Arrange the service"/>'
                '<bpmn:endEvent id="c_end"/>' + chain("c_start", "arrange", "c_end"))
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# (days after T0 the case started, days after T0 its review is due, team)
CASES = [(0, 5, "north"), (1, 20, "north"), (3, None, "south"), (7, 9, "south")]


def deploy(engine: Engine, label: str = "") -> None:
    engine.deploy({"support.bpmn": process("support", SUPPORT.replace('name="Review"', f'name="Review{label}"'),
                                           MESSAGES),
                   "coordination.bpmn": process("coordination", COORDINATION)})


def start(engine: Engine, clock: TestClock, keys: IdentityCodeKeys, n: int, days: int, due: int | None,
          team: str) -> str:
    clock.now = T0 + timedelta(days=days)
    review_due = (T0 + timedelta(days=due)).isoformat() if due is not None else None
    case_id = engine.start("support", f"TKT-{n}", {"reviewDue": review_due})
    with engine.db.transaction() as s:
        code = fictitious_code(date(1980, 1, 1), 900 + n)
        client = register_client(s, keys, name=f"Testi Asiakas {n}", identity_code=code, at=clock(),
                                 municipality="Espoo" if team == "north" else "Vantaa")
        record = open_case(s, case_id, client.id, clock())
        record.team_id = team
    return case_id


@pytest.fixture
def cases(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> list[str]:
    with engine.db.transaction() as s:
        add_team(s, "north", "North", clock())
        add_team(s, "south", "South", clock())
    deploy(engine)
    ids = [start(engine, clock, keys, n, days, due, team) for n, (days, due, team) in enumerate(CASES)]
    clock.now = T0 + timedelta(days=10)
    return ids


def by_step(stalls: list[StepStall]) -> dict[tuple[str, str], StepStall]:
    return {(s.process_key, s.element_id): s for s in stalls}


def days(value: float) -> timedelta:
    return timedelta(seconds=round(value * 86400))


def test_percentile_cont_interpolates_like_postgresql() -> None:
    assert percentile_cont([3, 7, 9, 10], 0.5) == 8
    assert percentile_cont([3, 7, 9, 10], 0.9) == pytest.approx(9.7)
    assert percentile_cont([5], 0.9) == 5
    assert percentile_cont([], 0.5) == 0


def test_every_kind_of_wait_counts_under_its_step_with_ages_and_overdue(engine: Engine, clock: TestClock,
                                                                        cases: list[str]) -> None:
    with engine.db.read() as s:
        stalls = by_step(step_stalls(s, clock()))
        # the boundary timer and the event subprocess's start do wait (the engine projects them)...
        assert len(waiting_cases(s, clock(), Scope(), "support", "review_late")) == 4
        assert len(waiting_cases(s, clock(), Scope(), "support", "change_requested")) == 4
    # waiting since days 0, 1, 3, 7; now is day 10: ages 10, 9, 7, 3 days
    expected_ages = (days(8), days(9.7), days(10))
    # ...but only beside another wait of the same case, so they are no step of their own
    assert set(stalls) == {("support", "review"), ("support", "notify"), ("support", "reminder_due"),
                           ("support", "client_replied"), ("coordination", "arrange")}
    for key, kind, name in [(("support", "review"), "task", "Review"), (("support", "notify"), "job", "Notify"),
                            (("support", "reminder_due"), "timer", "Reminder due"),
                            (("support", "client_replied"), "message", "Client replied"),
                            (("coordination", "arrange"), "task", "Arrange the service")]:
        stall = stalls[key]
        assert (stall.kind, stall.name, stall.waiting, stall.version) == (kind, name, 4, 1), key
        assert (stall.age_p50, stall.age_p90, stall.age_max) == expected_ages, key
    # review due on day 5 and day 9 are past; due on day 20 is not; no due date is never overdue
    assert stalls[("support", "review")].overdue == 2
    # a timer's due date is when it fires, not a deadline; the others have none
    assert all(s.overdue == 0 for k, s in stalls.items() if k != ("support", "review"))


def test_the_scope_counts_only_the_teams_and_municipality_asked_for(engine: Engine, clock: TestClock,
                                                                    cases: list[str]) -> None:
    with engine.db.read() as s:
        north = by_step(step_stalls(s, clock(), Scope(frozenset({"north"}))))
        south_vantaa = by_step(step_stalls(s, clock(), Scope(frozenset({"south"}), "vantaa")))
        north_vantaa = step_stalls(s, clock(), Scope(frozenset({"north"}), "Vantaa"))
        nobody = step_stalls(s, clock(), Scope(frozenset()))
    review = north[("support", "review")]
    assert (review.waiting, review.age_p50, review.age_p90, review.age_max, review.overdue) == (
        2, days(9.5), days(9.9), days(10), 1)
    review = south_vantaa[("support", "review")]
    assert (review.waiting, review.age_p50, review.age_p90, review.age_max, review.overdue) == (
        2, days(5), days(6.6), days(7), 1)
    assert north_vantaa == [] and nobody == []


def test_the_drill_down_lists_the_waiting_cases_longest_first(engine: Engine, clock: TestClock,
                                                              cases: list[str]) -> None:
    with engine.db.read() as s:
        review = waiting_cases(s, clock(), Scope(), "support", "review")
        timer = waiting_cases(s, clock(), Scope(frozenset({"south"})), "support", "reminder_due")
        called = waiting_cases(s, clock(), Scope(), "coordination", "arrange")
        wrong_process = waiting_cases(s, clock(), Scope(), "coordination", "review")
    assert [(w.business_key, w.since, w.due, w.overdue) for w in review] == [
        ("TKT-0", T0, T0 + timedelta(days=5), True), ("TKT-1", T0 + timedelta(days=1), T0 + timedelta(days=20), False),
        ("TKT-2", T0 + timedelta(days=3), None, False), ("TKT-3", T0 + timedelta(days=7), T0 + timedelta(days=9), True)]
    assert [(w.business_key, w.kind, w.since, w.due, w.overdue) for w in timer] == [
        ("TKT-2", "timer", T0 + timedelta(days=3), T0 + timedelta(days=33), False),
        ("TKT-3", "timer", T0 + timedelta(days=7), T0 + timedelta(days=37), False)]
    assert [w.business_key for w in called] == ["TKT-0", "TKT-1", "TKT-2", "TKT-3"]
    assert wrong_process == []


def test_a_case_that_moves_on_leaves_the_step_and_ended_cases_do_not_wait(engine: Engine, clock: TestClock,
                                                                         cases: list[str]) -> None:
    [task] = [t for t in engine.open_tasks(cases[0]) if t.element_id == "review"]
    engine.complete_task(task.id)
    engine.correlate("clientReplied", case_id=cases[1])
    engine.cancel(cases[2])
    with engine.db.read() as s:
        stalls = by_step(step_stalls(s, clock()))
    assert stalls[("support", "review")].waiting == 2  # TKT-1, TKT-3 (TKT-0 done, TKT-2 cancelled)
    assert stalls[("support", "review")].overdue == 1
    # TKT-1's reply came: the gateway's other catch event (the timer) no longer waits either
    assert stalls[("support", "client_replied")].waiting == 2
    assert stalls[("support", "reminder_due")].waiting == 2
    assert stalls[("support", "notify")].waiting == 3


def test_older_versions_are_selectable_and_the_latest_is_the_default(engine: Engine, clock: TestClock,
                                                                     keys: IdentityCodeKeys,
                                                                     cases: list[str]) -> None:
    deploy(engine, " (v2)")
    start(engine, clock, keys, 4, 10, None, "north")  # day 10: waits on version 2 for no time at all
    with engine.db.read() as s:
        latest = by_step(step_stalls(s, clock()))
        first = by_step(step_stalls(s, clock(), version="support:1"))
        every = step_stalls(s, clock(), version="all")
        old = waiting_cases(s, clock(), Scope(), "support", "review", version="support:1")
        new = waiting_cases(s, clock(), Scope(), "support", "review")
    review = latest[("support", "review")]
    assert (review.version, review.name, review.waiting, review.age_max) == (2, "Review (v2)", 1, timedelta(0))
    assert latest[("coordination", "arrange")].version == 2  # the called process deployed with version 2
    assert set(first) == {("support", "review"), ("support", "notify"), ("support", "reminder_due"),
                          ("support", "client_replied")}
    assert first[("support", "review")].waiting == 4 and first[("support", "review")].version == 1
    assert sorted((s.process_key, s.element_id, s.version, s.waiting) for s in every
                  if s.element_id in ("review", "arrange")) == [
        ("coordination", "arrange", 1, 4), ("coordination", "arrange", 2, 1),
        ("support", "review", 1, 4), ("support", "review", 2, 1)]
    assert [w.business_key for w in old] == ["TKT-0", "TKT-1", "TKT-2", "TKT-3"]
    assert [w.business_key for w in new] == ["TKT-4"]


def test_a_case_waiting_in_two_called_instances_counts_two_waits_of_one_case(engine: Engine, clock: TestClock) -> None:
    caller = ('<bpmn:startEvent id="start"/><bpmn:callActivity id="each" calledElement="coordination">'
              '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${services}" '
              'camunda:elementVariable="service"/></bpmn:callActivity><bpmn:endEvent id="end"/>'
              + chain("start", "each", "end"))
    engine.deploy({"caller.bpmn": process("caller", caller),
                   "coordination.bpmn": process("coordination", COORDINATION)})
    clock.now = T0
    engine.start("caller", "TKT-9", {"services": ["a", "b"]})
    clock.now = T0 + timedelta(days=2)
    with engine.db.read() as s:
        [arrange] = [x for x in step_stalls(s, clock()) if x.element_id == "arrange"]
        listed = waiting_cases(s, clock(), Scope(), "coordination", "arrange")
    assert (arrange.process_key, arrange.waiting, arrange.cases, arrange.age_max) == (
        "coordination", 2, 1, timedelta(days=2))
    assert [w.business_key for w in listed] == ["TKT-9", "TKT-9"]
