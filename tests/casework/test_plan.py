"""Plans: every item owned by someone with a date, versions kept as they were."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import pytest

from casework.errors import CaseworkError
from casework.plan import (
    ClientTask,
    Goal,
    IncompletePlan,
    ItemKind,
    PlanDraft,
    PlannedService,
    ServiceType,
    current_plan,
    plan_versions,
    save_plan,
)
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock


def first_plan() -> PlanDraft:
    return PlanDraft(
        goals=[Goal("Osa-aikatyö kaupan alalla", date(2026, 12, 31), "asiakas ja asiakasvastaava", main=True),
               Goal("Työkyvyn arvio tehty", date(2026, 3, 31), "terveysasema")],
        services=[PlannedService(ServiceType.WORK_ABILITY_ASSESSMENT, "Terveysasema", "lääkäri Esa Esimerkki",
                                 date(2026, 2, 15)),
                  PlannedService(ServiceType.WORK_TRIAL, "Työllisyyspalvelut", "Olli Ohjaaja", date(2026, 4, 1))],
        client_tasks=[ClientTask("Täytä Kykyviisari", date(2026, 1, 20))],
        starting_situation={"physical": 2, "psychological": 2, "social": 1, "cognitive": 0},
    )


def test_a_plan_item_without_owner_or_date_is_refused_with_each_problem_named(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    draft = PlanDraft(goals=[Goal("Koulutus", None, "asiakas", main=True)],
                      services=[PlannedService(ServiceType.JOB_COACH, "Järjestö ry", None, date(2026, 3, 1)),
                                PlannedService(ServiceType.DEBT_COUNSELLING, "Talous- ja velkaneuvonta", "Neuvoja",
                                               None)],
                      client_tasks=[ClientTask("Hae opiskelupaikkaa", None)])
    with pytest.raises(IncompletePlan) as err, db.transaction() as s:
        save_plan(s, case_id, draft, by="aino", at=clock())
    assert err.value.problems == [
        "goal 1 (Koulutus): no target date",
        "service 1 (job_coach, Järjestö ry): no responsible person",
        "service 2 (debt_counselling, Talous- ja velkaneuvonta): no start due date",
        "client task 1 (Hae opiskelupaikkaa): no due date",
    ]
    with db.transaction() as s:
        assert current_plan(s, case_id) is None


def test_follow_up_interval_defaults_to_three_months_and_is_at_most_six(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        assert save_plan(s, case_id, first_plan(), by="aino", at=clock()).follow_up_months == 3
    too_long = PlanDraft(goals=first_plan().goals, follow_up_months=7)
    with pytest.raises(CaseworkError, match="1-6 months"), db.transaction() as s:
        save_plan(s, case_id, too_long, by="aino", at=clock())


def test_a_revision_is_a_new_version_and_the_old_one_stays_as_it_was(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        save_plan(s, case_id, first_plan(), by="aino", at=clock())
    clock.advance(days=90)
    revised = PlanDraft(goals=first_plan().goals,
                        services=[PlannedService(ServiceType.VOCATIONAL_REHABILITATION, "Kela", "Kelan neuvoja",
                                                 date(2026, 6, 1))],
                        follow_up_months=6)
    with db.transaction() as s:
        save_plan(s, case_id, revised, by="aino", at=clock(), reason="työkokeilu ei sopinut")
    with db.transaction() as s:
        v1, v2 = plan_versions(s, case_id)
        assert (v1.version, v2.version) == (1, 2)
        assert [i.kind for i in v1.items] == [ItemKind.MAIN_GOAL, ItemKind.GOAL, ItemKind.SERVICE, ItemKind.SERVICE,
                                              ItemKind.CLIENT_TASK]
        assert [i.service_type for i in v1.items if i.kind is ItemKind.SERVICE] == [
            ServiceType.WORK_ABILITY_ASSESSMENT, ServiceType.WORK_TRIAL]
        assert v1.follow_up_months == 3 and v1.starting_situation["physical"] == 2
        assert [i.provider_organisation for i in v2.items if i.kind is ItemKind.SERVICE] == ["Kela"]
        assert v2.reason == "työkokeilu ei sopinut"
        current = current_plan(s, case_id)
        assert current is not None and current.version == 2
        assert all(i.responsible and i.due for v in (v1, v2) for i in v.items)
