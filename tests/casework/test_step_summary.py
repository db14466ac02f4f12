"""casework.step_summary: the scheduler's summary of /manage — the waiting snapshot and the duration histogram.

Known data from tests/casework/test_stalls.py (four cases waiting at five steps, started on days 0, 1, 3 and 7).
Run with POLKU_TEST_POSTGRES for PostgreSQL (percentile_cont, ON CONFLICT, FOR UPDATE).
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys
from casework.referral import ReferralSource
from casework.stalls import Scope, live_step_stalls, step_stalls
from casework.step_summary import (
    BUCKET_ERROR,
    StepDuration,
    StepDurationPending,
    WaitingItem,
    bucket_of,
    bucket_value,
    histogram_percentile,
    period_durations,
    refresh,
    refreshed_at,
    site_variant_of,
)
from engine.models import Deployment
from engine.runtime import Engine
from tests.casework.test_stalls import T0, by_step, days, deploy, start
from tests.casework.test_stalls import cases as cases  # noqa: F401  (the fixture)
from tests.conftest import TestClock

NOW = T0 + timedelta(days=10)


def refreshed(engine: Engine, settle: timedelta = timedelta(0)) -> None:
    with engine.db.transaction() as s:
        refresh(s, engine.clock(), settle=settle)


def test_the_snapshot_after_a_refresh_has_the_live_figures_and_its_time(engine: Engine, clock: TestClock,
                                                                       cases: list[str]) -> None:
    with engine.db.read() as s:
        assert refreshed_at(s) is None
        live = step_stalls(s, clock())  # before the first refresh: computed live
    refreshed(engine)
    with engine.db.read() as s:
        assert refreshed_at(s) == NOW
        summary = step_stalls(s, clock())
        rows = s.scalar(select(func.count()).select_from(WaitingItem))
        review_rows = s.scalars(select(WaitingItem).where(WaitingItem.element_id == "review")
                                .order_by(WaitingItem.since)).all()
    assert summary == live
    stalls = by_step(summary)
    assert (stalls[("support", "review")].waiting, stalls[("support", "review")].age_p50,
            stalls[("support", "review")].age_p90, stalls[("support", "review")].age_max,
            stalls[("support", "review")].overdue) == (4, days(8), days(9.7), days(10), 2)
    assert stalls[("coordination", "arrange")].version == 1
    # one row per wait at the five steps (the boundary timer and the event subprocess start are left out)
    assert rows == 5 * 4
    assert [(r.kind, r.team_id, r.municipality, r.since, r.site_variant) for r in review_rows] == [
        ("task", "north", "Espoo", T0, ""), ("task", "north", "Espoo", T0 + timedelta(days=1), ""),
        ("task", "south", "Vantaa", T0 + timedelta(days=3), ""),
        ("task", "south", "Vantaa", T0 + timedelta(days=7), "")]


def test_the_snapshot_keeps_its_counts_until_the_next_refresh_but_ages_move_with_the_clock(
        engine: Engine, clock: TestClock, cases: list[str]) -> None:
    refreshed(engine)
    [task] = [t for t in engine.open_tasks(cases[0]) if t.element_id == "review"]
    engine.complete_task(task.id)
    clock.now = NOW + timedelta(days=1)
    with engine.db.read() as s:
        before = by_step(step_stalls(s, clock()))[("support", "review")]
    assert (before.waiting, before.age_max) == (4, days(11))  # as of the refresh; ages as of now
    refreshed(engine)
    with engine.db.read() as s:
        after = by_step(step_stalls(s, clock()))[("support", "review")]
    assert (after.waiting, after.age_max, after.overdue) == (3, days(10), 1)


def test_the_filters_work_on_the_snapshot(engine: Engine, clock: TestClock, keys: IdentityCodeKeys,
                                          cases: list[str]) -> None:
    with engine.db.transaction() as s:
        s.get(ClientCase, cases[0]).referral_source = ReferralSource.KELA  # type: ignore[union-attr]
        s.get(ClientCase, cases[3]).referral_source = ReferralSource.KELA  # type: ignore[union-attr]
    deploy(engine, " (v2)")
    start(engine, clock, keys, 4, 10, None, "north")
    refreshed(engine)
    with engine.db.read() as s:
        north = by_step(step_stalls(s, clock(), Scope(frozenset({"north"}))))
        vantaa = by_step(step_stalls(s, clock(), Scope(None, "vantaa"), version="all"))
        kela = by_step(step_stalls(s, clock(), Scope(None, None, "kela"), version="support:1"))
        main = step_stalls(s, clock(), Scope(None, None, None, ""), version="all")
        iisalmi = step_stalls(s, clock(), Scope(None, None, None, "iisalmi"), version="all")
        first = by_step(step_stalls(s, clock(), version="support:1"))
    review = north[("support", "review")]  # the latest version: only TKT-4
    assert (review.version, review.waiting, review.name) == (2, 1, "Review (v2)")
    review = vantaa[("support", "review")]
    assert (review.waiting, review.age_p50, review.age_max, review.overdue) == (2, days(5), days(7), 1)
    review = kela[("support", "review")]
    assert (review.waiting, review.age_p50, review.age_max, review.overdue) == (2, days(6.5), days(10), 2)
    assert sum(x.waiting for x in main) == 25 and iisalmi == []
    assert first[("support", "review")].waiting == 4 and ("coordination", "arrange") not in first


def test_a_site_variant_is_the_directory_its_deployment_came_from(engine: Engine, clock: TestClock,
                                                                  cases: list[str]) -> None:
    assert site_variant_of("/srv/polku/bpmn/sites/iisalmi") == "iisalmi"
    assert site_variant_of("bpmn/sites/iisalmi/") == "iisalmi"
    assert site_variant_of("/srv/polku/bpmn") == "" and site_variant_of(None) == ""
    with engine.db.transaction() as s:
        for deployment in s.scalars(select(Deployment)):
            deployment.source = "bpmn/sites/iisalmi"
    refreshed(engine)
    with engine.db.read() as s:
        iisalmi = step_stalls(s, clock(), Scope(None, None, None, "iisalmi"))
        main = step_stalls(s, clock(), Scope(None, None, None, ""))
    assert sum(x.waiting for x in iisalmi) == 20 and main == []


def test_concurrent_refreshes_leave_one_snapshot_and_count_history_once(engine: Engine, clock: TestClock,
                                                                        cases: list[str]) -> None:
    for case_id in cases:
        [task] = [t for t in engine.open_tasks(case_id) if t.element_id == "review"]
        engine.complete_task(task.id)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            refreshed(engine)
        except BaseException as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(WaitingItem)) == 4 * 4  # review done: four steps left
        histogram = period_durations(s, date(2026, 1, 1), date(2026, 1, 31))
    assert histogram[("support", 1, "review")].count == 4


def test_the_histogram_adds_new_history_once_and_open_rows_when_they_end(engine: Engine, clock: TestClock,
                                                                         cases: list[str]) -> None:
    # review took 10, 9, 7 and 3 days (completed on day 10); notify (a job) is still open everywhere
    [task] = [t for t in engine.open_tasks(cases[0]) if t.element_id == "review"]
    engine.complete_task(task.id)
    refreshed(engine)
    refreshed(engine)  # nothing new: nothing added twice
    with engine.db.read() as s:
        first = period_durations(s, date(2026, 1, 15), date(2026, 1, 15))
        pending = s.scalar(select(func.count()).select_from(StepDurationPending))
    assert first[("support", 1, "review")].count == 1
    assert pending > 0  # rows still open at the refresh (the other tasks, the job...) wait to be counted
    for case_id in cases[1:]:
        [task] = [t for t in engine.open_tasks(case_id) if t.element_id == "review"]
        engine.complete_task(task.id)
    refreshed(engine)
    refreshed(engine)
    with engine.db.read() as s:
        counted = period_durations(s, date(2026, 1, 15), date(2026, 1, 15))[("support", 1, "review")]
        north = period_durations(s, date(2026, 1, 15), date(2026, 1, 15),
                                 Scope(frozenset({"north"})).summary_conditions(StepDuration))
        total = s.scalar(select(func.sum(StepDuration.count)).where(StepDuration.element_id == "review"))
    assert counted.count == 4 and total == 4
    # durations 3, 7, 9, 10 days: median (nearest rank) 7 days, p90 10 days, each within the bucket error
    assert abs(counted.p50 / timedelta(days=7) - 1) <= BUCKET_ERROR
    assert abs(counted.p90 / timedelta(days=10) - 1) <= BUCKET_ERROR
    assert north[("support", 1, "review")].count == 2
    with engine.db.read() as s:
        assert period_durations(s, date(2026, 1, 16), date(2026, 2, 15)) == {}


def test_rows_too_new_to_be_sure_of_wait_for_the_next_refresh(engine: Engine, clock: TestClock,
                                                              cases: list[str]) -> None:
    [task] = [t for t in engine.open_tasks(cases[0]) if t.element_id == "review"]
    engine.complete_task(task.id)
    refreshed(engine, settle=timedelta(days=30))  # every row started within the settle time: none read
    with engine.db.read() as s:
        assert period_durations(s, date(2026, 1, 1), date(2026, 1, 31)) == {}
    refreshed(engine)
    with engine.db.read() as s:
        assert period_durations(s, date(2026, 1, 1), date(2026, 1, 31))[("support", 1, "review")].count == 1


@pytest.mark.parametrize("seconds", [1, 59, 3600, 86400 * 7, 86400 * 365])
def test_a_bucket_stands_for_its_durations_within_the_stated_error(seconds: float) -> None:
    assert abs(bucket_value(bucket_of(seconds)) / seconds - 1) <= BUCKET_ERROR
    assert bucket_of(0.5) == -1 and bucket_value(-1) == 0


def test_percentiles_of_a_histogram_are_nearest_rank_within_the_bucket_error() -> None:
    values = [60.0 * n for n in range(1, 101)]  # 1..100 minutes
    counts: dict[int, int] = {}
    for v in values:
        counts[bucket_of(v)] = counts.get(bucket_of(v), 0) + 1
    assert abs(histogram_percentile(counts, 0.5) / 3000 - 1) <= BUCKET_ERROR  # the 50th value: 50 minutes
    assert abs(histogram_percentile(counts, 0.9) / 5400 - 1) <= BUCKET_ERROR  # the 90th: 90 minutes
    assert histogram_percentile({}, 0.5) == 0
    assert round(BUCKET_ERROR, 4) == 0.0905


def test_overdue_counts_tasks_whose_due_date_passed_after_the_refresh(engine: Engine, clock: TestClock,
                                                                      cases: list[str]) -> None:
    refreshed(engine)
    clock.now = T0 + timedelta(days=21)  # TKT-1's review was due on day 20
    with engine.db.read() as s:
        every = by_step(step_stalls(s, clock()))[("support", "review")]  # the refresh's totals (waiting_step)
        north = by_step(step_stalls(s, clock(), Scope(frozenset({"north"}))))[("support", "review")]
        live = by_step(live_step_stalls(s, clock()))[("support", "review")]
    assert every == live
    assert (every.overdue, every.age_max, every.age_p50) == (3, days(21), days(19))
    assert north.overdue == 2
