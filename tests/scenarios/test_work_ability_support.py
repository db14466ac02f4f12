"""Every path of bpmn/work-ability-support.bpmn, driven as staff and partners would, with the real handlers.

Each scenario asserts what people would see afterwards: the case manager history, the letters the
client was sent, the plan versions, the disclosures to partners, the mail staff got.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from casework import schema as casework_schema
from casework.access_log import DisclosureLogEntry
from casework.case_manager import assignment_history, current_case_manager, deactivate_and_request_changes
from casework.client_case import CaseStatus, ClosureReason
from casework.evaluation import closure_evaluation, reviews_of_case
from engine.models import Base
from tests.scenarios.conftest import BROAD, LIGHT, World


def test_basic_services_exit_guides_the_client_and_names_no_case_manager(world: World) -> None:
    case = world.refer("Testi Aaltonen", code="010190-900P")
    assert world.open_tasks(case) == ["needs_mapping"]
    world.task(case, "needs_mapping", LIGHT, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"basicServicesDestination": "typ"}, actor="koordinaattori.anna")
    assert world.status(case) == "completed"
    record = world.client_case("010190-900P")
    assert record is not None and record.status is CaseStatus.CLOSED
    assert record.closure_reason is ClosureReason.BASIC_SERVICES and record.needs_case_manager is False
    assert record.next_responsible and record.next_responsible.startswith("TYP")
    with world.engine.db.transaction() as session:
        assert assignment_history(session, case) == []
    assert world.letters(case) == ["guidance_to_basic_services"]
    assert [r.split(":")[0] for r in world.mail(case)] == ["client"]  # the letter, by email


def test_a_second_referral_of_a_client_with_an_open_case_goes_to_that_case(world: World) -> None:
    first = world.refer("Demo Heinonen", code="131052-930V")
    world.task(first, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(first, "confirm_decision", {"decision": "coordinator", "caseManager": "koordinaattori.anna"})
    second = world.refer("Demo Heinonen", code="131052-930V")
    assert world.status(second) == "completed"  # routed, not a second case
    assert world.mail(second) == ["staff:koordinaattori.anna"]  # the case manager hears of the new referral
    assert world.letters(first) == ["case_manager_named"]
    record = world.client_case("131052-930V")
    assert record is not None and record.case_id == first and record.status is CaseStatus.OPEN
    with world.engine.db.transaction() as session:
        assert [a.user_id for a in assignment_history(session, first)] == ["koordinaattori.anna"]
        assert session.scalars(select(DisclosureLogEntry)).all() == []


def history(world: World, case: str) -> list[tuple[str, str, str | None]]:
    with world.engine.db.transaction() as session:
        return [(a.user_id, a.reason.value, a.ended_reason.value if a.ended_reason else None)
                for a in assignment_history(session, case)]


def disclosures(world: World, case: str) -> list[int]:
    with world.engine.db.transaction() as session:
        return [d.partner_id for d in session.scalars(select(DisclosureLogEntry).where(
            DisclosureLogEntry.case_id == case).order_by(DisclosureLogEntry.id))]


def named(world: World, name: str, manager: str, mapping: dict | None = None) -> str:
    """A referred client whose coordinator named `manager` as case manager."""
    case = world.refer(name)
    world.task(case, "needs_mapping", mapping or BROAD, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": manager},
               actor="koordinaattori.anna")
    return case


def test_full_path_plan_two_services_two_follow_ups_a_revision_and_a_warm_handover(world: World) -> None:
    case = named(world, "Kuvitteellinen Niemi", "koordinaattori.anna")
    assert world.open_tasks(case) == ["make_plan"]
    world.consent(case, "employment")
    world.consent(case, "health")
    world.task(case, "make_plan", world.plan("employment", "health"), actor="koordinaattori.anna")
    assert sorted(disclosures(world, case)) == sorted([world.partners["employment"], world.partners["health"]])
    world.answer(case, "health")
    world.answer(case, "employment")
    # first follow-up: the review waits two weeks and the case manager is reminded, then carries on
    world.fire(case, "follow_up_due")
    before = world.mail(case)
    world.fire(case, "follow_up_reminder_due")
    assert world.mail(case) == [*before, "staff:koordinaattori.anna"]  # one reminder
    world.task(case, "follow_up_review", {"followUpDecision": "continue", "goalProgress": "ongoing"},
               actor="koordinaattori.anna")
    # second follow-up: the plan is revised and a workshop is added
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {"followUpDecision": "revise_plan", "goalProgress": "ongoing"},
               actor="koordinaattori.anna")
    world.consent(case, "ngo")
    world.task(case, "make_plan", world.plan("employment", "health", "ngo", revision=True),
               actor="koordinaattori.anna")
    assert disclosures(world, case)[-1] == world.partners["ngo"]  # only the new service is referred
    assert len(disclosures(world, case)) == 3
    world.answer(case, "ngo")
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {"followUpDecision": "close", "goalProgress": "reached"},
               actor="koordinaattori.anna")
    world.task(case, "handover_plan", {"closureReason": "employment",
                                       "nextResponsible": "Työllisyyspalvelut, Kuvitteellinen Virkailija",
                                       "nextResponsibleContact": "029 000 0000",
                                       "continuationPlan": "Työsuhde alkaa, seuranta työllisyyspalveluissa",
                                       "physicalRating": 1, "psychologicalRating": 1, "socialRating": 1,
                                       "cognitiveRating": 0, "feedbackResponse": "paper",
                                       "feedbackKnewWhomToContact": 5, "feedbackGotServices": 4,
                                       "feedbackWasHeard": 5},
               actor="koordinaattori.anna")
    world.task(case, "handover_meeting", {"meetingDate": world.clock.now.date().isoformat(), "meetingHeld": True,
                                          "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut."},
               actor="koordinaattori.anna")
    assert world.status(case) == "completed"
    record = world.client_case_of(case)
    assert record.status is CaseStatus.CLOSED and record.closure_reason is ClosureReason.EMPLOYMENT
    assert record.next_responsible == "Työllisyyspalvelut, Kuvitteellinen Virkailija"
    assert history(world, case) == [("koordinaattori.anna", "initial", "case_closed")]
    assert [p.version for p in world.plans(case)] == [1, 2]
    assert world.letters(case) == ["case_manager_named", "closure_summary"]
    with world.engine.db.transaction() as session:  # the evaluation data: three reviews and the closure
        assert [r.decision.value for r in reviews_of_case(session, case)] == ["continue", "revise_plan", "close"]
        assert [r.plan_version for r in reviews_of_case(session, case)] == [1, 1, 2]
        closing = closure_evaluation(session, case)
        assert closing is not None and closing.feedback_response.value == "paper"


def test_team_review_decides_and_names_a_social_worker(world: World) -> None:
    case = world.refer("Koe Heikkinen")
    world.task(case, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"decision": "team_review", "overrideReason": "Tilanne epäselvä"},
               actor="koordinaattori.anna")
    assert world.open_tasks(case) == ["work_ability_team_review"]
    assert history(world, case) == []
    world.task(case, "work_ability_team_review", {"decision": "social_worker", "caseManager": "sosiaalityo.pekka",
                                                  "teamNotes": "Sosiaalityön asiakkuus tarpeen"})
    assert world.open_tasks(case) == ["make_plan"]
    assert history(world, case) == [("sosiaalityo.pekka", "initial", None)]
    assert world.letters(case) == ["case_manager_named"]


def test_case_manager_change_in_the_middle_of_service_coordination(world: World) -> None:
    case = named(world, "Koe Kinnunen", "koordinaattori.anna")
    world.consent(case, "employment")
    world.consent(case, "health")
    world.task(case, "make_plan", world.plan("employment", "health"), actor="koordinaattori.anna")
    world.answer(case, "employment")  # one service answered, the other still waits
    world.message("caseManagerChange", case, changeRequestedBy="esihenkilo.maria")
    world.task(case, "name_new_case_manager", {"newCaseManager": "koordinaattori.ville", "changeReason": "workload"},
               actor="esihenkilo.maria")
    world.task(case, "confirm_handover_old", {"handoverNotesOld": "Asiakas tavattu yhdessä",
                                              "jointMeetingDate": world.clock.now.date().isoformat()},
               actor="koordinaattori.anna")
    world.task(case, "confirm_handover_new", {"handoverConfirmed": True}, actor="koordinaattori.ville")
    assert history(world, case) == [("koordinaattori.anna", "initial", "workload"),
                                    ("koordinaattori.ville", "workload", None)]
    with world.engine.db.transaction() as session:
        current = current_case_manager(session, case)
        assert current is not None and current.handover_confirmed_by_old_at and current.handover_confirmed_by_new_at
    assert world.letters(case) == ["case_manager_named", "case_manager_changed"]
    world.answer(case, "health")  # coordination goes on under the new case manager
    world.fire(case, "follow_up_due")
    review = [t for t in world.engine.open_tasks(case) if t.element_id == "follow_up_review"]
    assert [t.assignee for t in review] == ["koordinaattori.ville"]


def test_overdue_mapping_escalates_to_the_team_lead_and_the_mapping_stays_open(world: World) -> None:
    case = world.refer("Testi Aaltonen")
    world.fire(case, "mapping_overdue")
    assert world.open_tasks(case) == ["mapping_escalation", "needs_mapping"]
    escalation = [t for t in world.engine.open_tasks(case) if t.element_id == "mapping_escalation"][0]
    assert "teamLeads" in (escalation.candidate_groups or [])
    world.task(case, "mapping_escalation", {"escalationAction": "Siirretty toiselle koordinaattorille"},
               actor="esihenkilo.maria")
    world.task(case, "needs_mapping", LIGHT, actor="koordinaattori.ville")
    assert world.open_tasks(case) == ["confirm_decision"]


def test_partner_referral_without_consent_is_not_sent_and_is_recorded(world: World) -> None:
    case = named(world, "Keksitty Salonen", "koordinaattori.anna")
    world.consent(case, "employment")  # but none for the health centre
    world.task(case, "make_plan", world.plan("employment", "health"), actor="koordinaattori.anna")
    assert disclosures(world, case) == [world.partners["employment"]]
    assert world.open_tasks(case) == ["obtain_consent"]
    world.task(case, "obtain_consent", {"consentObtained": False, "consentNotes": "Asiakas ei halua"},
               actor="koordinaattori.anna")
    outcomes = world.referral_outcomes(case)
    assert outcomes[world.service_ids(case)["health"]] == ("no_consent", False)
    assert disclosures(world, case) == [world.partners["employment"]]
    assert world.letters(case) == ["case_manager_named"]


def test_consent_given_after_the_refusal_lets_the_referral_go(world: World) -> None:
    case = named(world, "Harjoitus Laine", "koordinaattori.anna")
    world.task(case, "make_plan", world.plan("health"), actor="koordinaattori.anna")
    assert world.open_tasks(case) == ["obtain_consent"] and disclosures(world, case) == []
    world.consent(case, "health")
    world.task(case, "obtain_consent", {"consentObtained": True}, actor="koordinaattori.anna")
    assert disclosures(world, case) == [world.partners["health"]]
    assert world.referral_outcomes(case)[world.service_ids(case)["health"]] == (None, True)


def test_a_deactivated_case_manager_sends_all_their_cases_to_the_change_flow(world: World) -> None:
    first = named(world, "Malli Virtanen", "sosiaalityo.pekka")
    second = named(world, "Esimerkki Korhonen", "sosiaalityo.pekka")
    other = named(world, "Demo Nieminen", "koordinaattori.anna")
    changed = deactivate_and_request_changes(world.engine, "sosiaalityo.pekka", world.clock())
    world.work()
    assert sorted(changed) == sorted([first, second])
    for case in (first, second):
        assert "name_new_case_manager" in world.open_tasks(case)
    assert "name_new_case_manager" not in world.open_tasks(other)
    world.task(first, "name_new_case_manager", {"newCaseManager": "koordinaattori.ville",
                                                "changeReason": "deactivated"}, actor="esihenkilo.maria")
    world.task(first, "confirm_handover_old", {"handoverNotesOld": "Työntekijä lähtenyt"}, actor="esihenkilo.maria")
    world.task(first, "confirm_handover_new", {"handoverConfirmed": True}, actor="koordinaattori.ville")
    assert history(world, first) == [("sosiaalityo.pekka", "initial", "deactivated"),
                                     ("koordinaattori.ville", "deactivated", None)]
    assert world.letters(first) == ["case_manager_named", "case_manager_changed"]
    assert world.letters(second) == ["case_manager_named"]  # still waiting for the team lead


def test_polku_user_deactivate_starts_the_change_flow(world: World, database_url: str) -> None:
    case = named(world, "Koe Savolainen", "sosiaalityo.pekka")
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!"}
    done = subprocess.run([str(Path(sys.executable).parent / "polku"), "user", "deactivate", "sosiaalityo.pekka",
                           "--by", "esihenkilo.maria"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first_line = done.stdout.splitlines()[0]
    assert first_line == "sosiaalityo.pekka deactivated; 1 case(s) sent to the case manager change flow"
    assert "name_new_case_manager" in world.open_tasks(case)
    again = subprocess.run([str(Path(sys.executable).parent / "polku"), "user", "deactivate", "nobody"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "nobody" in again.stderr and "Traceback" not in again.stderr


def test_the_identity_code_is_readable_nowhere_in_the_database_after_the_duplicate_check(world: World) -> None:
    code = "290200A901C"
    case = world.refer("Keksitty Laitinen", code=code)
    world.task(case, "needs_mapping", BROAD, actor="koordinaattori.anna")
    world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": "koordinaattori.anna"})
    with world.engine.db.transaction() as session:
        tables = Base.metadata.sorted_tables + casework_schema.metadata.sorted_tables  # the engine's and casework's
        dump = [str(row) for table in tables for row in session.execute(table.select())]
    assert dump and not [row for row in dump if code in row or code.lower() in row]
    assert world.client_case(code) is not None  # still found by the code, through its keyed hash
