"""casework.lead_times: the stretches of the case path, weekly inflow and outflow, and how cases ended, with known
dates. The same figures on SQLite (percentiles in Python) and PostgreSQL (percentile_cont): run once with
POLKU_TEST_POSTGRES."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from casework.case_manager import Assignment, AssignmentReason
from casework.client import register_client
from casework.client_case import CaseStatus, ClientCase, ClosureReason, open_case
from casework.evaluation import ClosureEvaluation, FeedbackResponse
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.lead_times import (
    MIN_CASES,
    Count,
    FlowFilter,
    Period,
    Stretch,
    case_versions,
    definitions_for,
    endings,
    lead_times,
    weekly_flow,
)
from casework.plan import ItemKind, PlanItem, PlanVersion
from casework.referral import ReferralSource
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus
from casework.stalls import Scope
from casework.teams import add_team
from casework.users import Role, add_user
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Monday 10:00 in Helsinki
PERIOD = Period(date(2026, 1, 5), date(2026, 2, 1))  # four whole weeks
D = timedelta(days=1)
# (opened, days to the decision, team, referral source)
CASES = [
    (T0, 1, "north", ReferralSource.SOCIAL_WORK),
    (T0, 2, "north", ReferralSource.SOCIAL_WORK),
    (T0 + D, 3, "north", ReferralSource.SOCIAL_WORK),
    (datetime(2026, 1, 11, 22, 30, tzinfo=UTC), 4, "north", ReferralSource.KELA),  # Monday 00:30 in Helsinki
    (T0 + 8 * D, 10, "north", ReferralSource.KELA),
    (datetime(2025, 12, 20, 8, 0, tzinfo=UTC), 10, "north", ReferralSource.KELA),  # decided before the period
    (T0 + 14 * D, 5, "south", ReferralSource.SOCIAL_WORK),
]


def days(value: float) -> timedelta:
    return timedelta(seconds=round(value * 86400))


def _assign(s: Session, case_id: str, client_id: str, start: datetime, end: datetime | None) -> None:
    s.add(Assignment(case_id=case_id, client_id=client_id, user_id="cm", user_name="Case Manager", from_at=start,
                     to_at=end, reason=AssignmentReason.INITIAL))


def _plan(s: Session, case_id: str, version: int, at: datetime, months: int = 3) -> PlanVersion:
    plan = PlanVersion(case_id=case_id, version=version, follow_up_months=months, starting_situation={},
                       client_view="", division_of_labour="", created_by="cm", created_at=at)
    s.add(plan)
    s.flush()
    return plan


def _service(s: Session, plan: PlanVersion, position: int) -> PlanItem:
    item = PlanItem(plan_version_id=plan.id, position=position, kind=ItemKind.SERVICE, text="Service",
                    responsible="cm", due=date(2026, 2, 1))
    s.add(item)
    s.flush()
    return item


@pytest.fixture
def ids(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> list[str]:
    engine.deploy({"path.bpmn": process("path", '<bpmn:startEvent id="s"/><bpmn:userTask id="work"/>'
                                        '<bpmn:endEvent id="e"/>' + chain("s", "work", "e"))})
    out = []
    with engine.db.transaction() as s:
        add_team(s, "north", "North", T0)
        add_team(s, "south", "South", T0)
        add_user(s, "cm", "Case Manager", [Role.CASE_MANAGER], T0)
    clients = {}
    for n, (opened, decided, team, source) in enumerate(CASES):
        clock.now = opened
        case_id = engine.start("path", f"LT-{n}", {})
        with engine.db.transaction() as s:
            client = register_client(s, keys, name=f"Testi {n}", identity_code=fictitious_code(date(1980, 1, 1),
                                                                                               940 + n), at=opened)
            record = open_case(s, case_id, client.id, opened)
            record.team_id, record.referral_source, record.municipality = team, source, "Espoo"
            record.decided_at, record.needs_case_manager = opened + decided * D, True
            clients[case_id] = client.id
        out.append(case_id)
    decided = [CASES[n][0] + CASES[n][1] * D for n in range(len(CASES))]
    with engine.db.transaction() as s:
        # decision -> first case manager: 0, 1, 1, 2, 3 days; cases 0 and 1 change case manager once
        for n, lag in enumerate([0, 1, 1, 2, 3]):
            start = decided[n] + lag * D
            if n == 0:  # ends on Jan 10, the next one from Jan 12: two days without
                _assign(s, out[n], clients[out[n]], start, datetime(2026, 1, 10, 8, tzinfo=UTC))
                _assign(s, out[n], clients[out[n]], datetime(2026, 1, 12, 8, tzinfo=UTC), None)
            elif n == 1:  # a seamless handover
                _assign(s, out[n], clients[out[n]], start, datetime(2026, 1, 15, 8, tzinfo=UTC))
                _assign(s, out[n], clients[out[n]], datetime(2026, 1, 15, 8, tzinfo=UTC), None)
            else:
                _assign(s, out[n], clients[out[n]], start, None)
        # decision -> first plan: 2, 4, 6 days; a second version does not count
        plans = [_plan(s, out[n], 1, decided[n] + lag * D) for n, lag in enumerate([2, 4, 6])]
        _plan(s, out[0], 2, datetime(2026, 1, 20, 8, tzinfo=UTC), months=6)
        # plan -> first service started: case 0's first service started 5 days after its plan (a partner's
        # answer), another one later (the referral's own status)
        first, second = _service(s, plans[0], 1), _service(s, plans[0], 2)
        s.add(ServiceReferral(plan_item_id=first.id, case_id=out[0], status=ServiceStatus.DONE,
                              status_at=datetime(2026, 1, 25, tzinfo=UTC), referral_id="r-1"))
        s.add(ServiceReferral(plan_item_id=second.id, case_id=out[0], status=ServiceStatus.STARTED,
                              status_at=datetime(2026, 1, 16, 8, tzinfo=UTC), referral_id="r-2"))
        s.flush()
        s.add(ReferralAnswer(plan_item_id=first.id, referral_id="r-1", answer=ServiceStatus.STARTED,
                             answered_by="partner", answered_at=plans[0].created_at + 5 * D))
        s.add(ReferralAnswer(plan_item_id=first.id, referral_id="r-1", answer=ServiceStatus.DONE,
                             answered_by="partner", answered_at=datetime(2026, 1, 25, tzinfo=UTC)))
        # closures: case 0 on Tuesday Jan 27 (employment, handed over), case 1 on Jan 20 (moved away)
        for n, at, reason, nxt in [(0, datetime(2026, 1, 27, 8, tzinfo=UTC), ClosureReason.EMPLOYMENT, "TE-toimisto"),
                                   (1, datetime(2026, 1, 20, 8, tzinfo=UTC), ClosureReason.MOVED_AWAY, None)]:
            record = s.get(ClientCase, out[n])
            assert record is not None
            record.status, record.closed_at, record.closure_reason, record.next_responsible = (
                CaseStatus.CLOSED, at, reason, nxt)
        s.add(ClosureEvaluation(case_id=out[0], recorded_at=datetime(2026, 1, 27, 8, tzinfo=UTC), recorded_by="cm",
                                physical_rating=3, psychological_rating=3, social_rating=3, cognitive_rating=3,
                                destination=ClosureReason.EMPLOYMENT, next_responsible="TE-toimisto",
                                feedback_response=FeedbackResponse.DECLINED))
    return out


NORTH = FlowFilter(PERIOD, Scope(frozenset({"north"})))
EVERY = FlowFilter(PERIOD)


def by_stretch(engine: Engine, chosen: FlowFilter) -> dict[Stretch, tuple[int, timedelta | None, timedelta | None]]:
    with engine.db.read() as s:
        return {t.stretch: (t.count, t.p50, t.p90) for t in lead_times(s, chosen)}


def test_lead_times_have_count_median_and_p90_of_the_stretches_ended_in_the_period(engine: Engine,
                                                                                  ids: list[str]) -> None:
    north = by_stretch(engine, NORTH)
    # referral -> decision 1, 2, 3, 4, 10 days (case 5 was decided before the period)
    assert north[Stretch.REFERRAL_TO_DECISION] == (5, days(3), days(7.6))
    # decision -> case manager 0, 1, 1, 2, 3 days
    assert north[Stretch.DECISION_TO_CASE_MANAGER] == (5, days(1), days(2.6))
    # fewer than five: the count, no percentiles
    assert north[Stretch.DECISION_TO_PLAN] == (3, None, None)
    assert north[Stretch.PLAN_TO_SERVICE] == (1, None, None)
    assert north[Stretch.REFERRAL_TO_CLOSURE] == (2, None, None)
    assert north[Stretch.WITHOUT_CASE_MANAGER] == (2, None, None)
    # every team: the south case's 5 days too
    assert by_stretch(engine, EVERY)[Stretch.REFERRAL_TO_DECISION] == (6, days(3.5), days(7.5))


def test_filters_narrow_the_cases(engine: Engine, ids: list[str]) -> None:
    kela = by_stretch(engine, FlowFilter(PERIOD, source=ReferralSource.KELA))
    assert kela[Stretch.REFERRAL_TO_DECISION] == (2, None, None)  # cases 3 and 4 (5 was decided before)
    south = by_stretch(engine, FlowFilter(PERIOD, Scope(frozenset({"south"}))))
    assert south[Stretch.REFERRAL_TO_DECISION][0] == 1
    assert by_stretch(engine, FlowFilter(PERIOD, Scope(None, "Vantaa")))[Stretch.REFERRAL_TO_DECISION][0] == 0
    january = FlowFilter(Period(date(2026, 1, 1), date(2026, 1, 9)), Scope(frozenset({"north"})))
    assert by_stretch(engine, january)[Stretch.REFERRAL_TO_DECISION][0] == 3  # decided on Jan 6, 7 and 9
    with engine.db.read() as s:
        versions = case_versions(s)
        assert [(key, number) for _id, key, number, _name in versions] == [("path", 1)]
        assert definitions_for(s, "path:1") == frozenset({versions[0][0]})
        assert definitions_for(s, "path:2") == frozenset()
        assert definitions_for(s, "all") is None
    gone = by_stretch(engine, FlowFilter(PERIOD, definition_ids=frozenset()))
    assert gone[Stretch.REFERRAL_TO_DECISION][0] == 0
    same = by_stretch(engine, FlowFilter(PERIOD, definition_ids=frozenset({versions[0][0]})))
    assert same[Stretch.REFERRAL_TO_DECISION] == (6, days(3.5), days(7.5))


def test_weekly_inflow_and_outflow_in_helsinki_weeks(engine: Engine, ids: list[str]) -> None:
    with engine.db.read() as s:
        north = [(w.monday, w.opened, w.closed) for w in weekly_flow(s, NORTH)]
        every = [(w.monday, w.opened, w.closed) for w in weekly_flow(s, EVERY)]
    # case 3 opened on Sunday 22:30 UTC, which is Monday in Helsinki: the second week
    assert north == [(date(2026, 1, 5), 3, 0), (date(2026, 1, 12), 2, 0), (date(2026, 1, 19), 0, 1),
                     (date(2026, 1, 26), 0, 1)]
    assert every[2] == (date(2026, 1, 19), 1, 1)
    assert [w.iso for w in weekly_flow_of(engine)] == [(2026, 2), (2026, 3), (2026, 4), (2026, 5)]


def weekly_flow_of(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine.db.read() as s:
        return weekly_flow(s, EVERY)


def test_endings_count_reasons_destinations_and_handovers_with_small_numbers_suppressed(engine: Engine,
                                                                                        ids: list[str]) -> None:
    with engine.db.read() as s:
        found = endings(s, NORTH)
    assert found.closed == 2
    assert [(c.key, c.count, c.shown) for c in found.reasons] == [("employment", 1, None), ("moved_away", 1, None)]
    assert [(c.key, c.count) for c in found.destinations] == [("employment", 1)]
    assert [(c.key, c.count) for c in found.next_responsible] == [("named", 1), ("not_named", 1)]
    assert Count("x", MIN_CASES).shown == 5 and Count("x", 0).shown == 0 and Count("x", 4).shown is None


def test_nothing_in_the_period_is_zero_everywhere(engine: Engine, ids: list[str]) -> None:
    empty = FlowFilter(Period(date(2030, 1, 1), date(2030, 1, 31)))
    assert all(v == (0, None, None) for v in by_stretch(engine, empty).values())
    with engine.db.read() as s:
        weeks = weekly_flow(s, empty)
        assert len(weeks) == 5 and all(w.opened == w.closed == 0 for w in weeks)
        assert endings(s, empty).closed == 0
