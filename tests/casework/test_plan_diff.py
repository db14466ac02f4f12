"""What changed between two plan versions: the reader of the case page sees a revision's effect at a glance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import pytest

from casework.errors import NotFound
from casework.plan import ClientTask, Goal, ItemKind, PlanDraft, PlannedService, ServiceType, plan_versions, save_plan
from casework.plan_diff import diff_versions, diffs_by_version
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock

MAIN = Goal("Osa-aikatyö kaupan alalla", date(2026, 12, 31), "asiakas ja asiakasvastaava", main=True)
ASSESSMENT = PlannedService(ServiceType.WORK_ABILITY_ASSESSMENT, "Terveysasema", "lääkäri Esa Esimerkki",
                            date(2026, 2, 15))
TRIAL = PlannedService(ServiceType.WORK_TRIAL, "Työllisyyspalvelut", "Olli Ohjaaja", date(2026, 4, 1))


def first() -> PlanDraft:
    return PlanDraft(goals=[MAIN, Goal("Työkyvyn arvio tehty", date(2026, 3, 31), "terveysasema")],
                     services=[ASSESSMENT, TRIAL], client_tasks=[ClientTask("Täytä Kykyviisari", date(2026, 1, 20))])


def second() -> PlanDraft:
    """The work trial is dropped for Kela's rehabilitation, the assessment moves, a goal and a task are new."""
    return PlanDraft(
        goals=[MAIN, Goal("Työkyvyn arvio tehty", date(2026, 3, 31), "terveysasema"),
               Goal("Kuntoutussuunnitelma tehty", date(2026, 8, 31), "Kela")],
        services=[PlannedService(ServiceType.WORK_ABILITY_ASSESSMENT, "Terveysasema", "lääkäri Eeva Esimerkki",
                                 date(2026, 3, 1)),
                  PlannedService(ServiceType.VOCATIONAL_REHABILITATION, "Kela", "Kelan neuvoja", date(2026, 6, 1))],
        client_tasks=[ClientTask("Täytä Kykyviisari", date(2026, 1, 20)),
                      ClientTask("Hae kuntoutusta", date(2026, 5, 1))],
        follow_up_months=2, next_meeting=date(2026, 3, 2))


def test_a_revision_shows_what_was_added_removed_and_changed(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        save_plan(s, case_id, first(), by="aino", at=clock())
    clock.advance(days=60)
    with db.transaction() as s:
        save_plan(s, case_id, second(), by="aino", at=clock(), reason="työkokeilu ei sopinut")
    with db.transaction() as s:
        diff = diff_versions(s, case_id, 1, 2)
    assert (diff.from_version, diff.to_version, diff.reason) == (1, 2, "työkokeilu ei sopinut")
    assert [(i.kind, i.label) for i in diff.added] == [
        (ItemKind.GOAL, "Kuntoutussuunnitelma tehty"), (ItemKind.SERVICE, "vocational_rehabilitation – Kela"),
        (ItemKind.CLIENT_TASK, "Hae kuntoutusta")]
    assert [(i.kind, i.label) for i in diff.removed] == [(ItemKind.SERVICE, "work_trial – Työllisyyspalvelut")]
    (changed,) = diff.changed
    assert changed.item.service_type == "work_ability_assessment"
    assert [(c.name, c.before, c.after) for c in changed.changes] == [
        ("responsible", "lääkäri Esa Esimerkki", "lääkäri Eeva Esimerkki"),
        ("due", date(2026, 2, 15), date(2026, 3, 1))]
    assert [(c.name, c.before, c.after) for c in diff.plan_changes] == [
        ("follow_up_months", 3, 2), ("next_meeting", None, date(2026, 3, 2))]
    assert diff.as_json()["changed"][0]["changes"][1] == {"field": "due", "before": "2026-02-15", "after": "2026-03-01"}


def test_the_first_version_is_all_added_and_an_unchanged_revision_is_empty(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        save_plan(s, case_id, first(), by="aino", at=clock())
        save_plan(s, case_id, first(), by="aino", at=clock(), reason="tarkistettu, ennallaan")
    with db.transaction() as s:
        diffs = diffs_by_version(plan_versions(s, case_id))
        assert diffs[1].from_version is None and len(diffs[1].added) == 5 and not diffs[1].removed
        assert diffs[2].empty and diffs[2].from_version == 1
        with pytest.raises(NotFound):
            diff_versions(s, case_id, 1, 3)


def test_a_changed_main_goal_is_a_change_not_a_new_goal(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        save_plan(s, case_id, first(), by="aino", at=clock())
        revised = PlanDraft(goals=[Goal("Kokoaikatyö kaupan alalla", date(2027, 6, 30), "asiakas ja asiakasvastaava",
                                        main=True), first().goals[1]], services=first().services,
                            client_tasks=first().client_tasks)
        save_plan(s, case_id, revised, by="aino", at=clock())
    with db.transaction() as s:
        diff = diff_versions(s, case_id, 1, 2)
    assert not diff.added and not diff.removed
    (changed,) = diff.changed
    assert changed.item.kind is ItemKind.MAIN_GOAL
    assert [c.name for c in changed.changes] == ["text", "due"]
