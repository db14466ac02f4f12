"""The case timeline (casework.case_timeline) and the case page's header data (casework.case_summary) on known
data: each kind of event at a known time, in order, with the people named, in a handful of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import event, select

from casework.case_manager import AssignmentReason, assign
from casework.case_notes import Visibility, add_note
from casework.case_summary import case_summary
from casework.case_timeline import Kind, case_timeline
from casework.client_case import ClientCase
from casework.consent import record_consent, revoke_consent
from casework.identity_code import IdentityCodeKeys
from casework.letter.records import Delivery, HowDelivered, Letter, LetterKind, mark_delivered
from casework.network import PartnerKind, add_partner
from casework.plan import Goal, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import record_answer, record_referral
from casework.staff import load_staff
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import TestClock


def test_every_kind_of_event_in_order_with_the_people_named(db: Database, engine: Engine, clock: TestClock,
                                                             keys: IdentityCodeKeys, staff: None,
                                                             new_case: Callable[..., str]) -> None:
    case = new_case()
    start = clock()

    def at(minutes: int) -> TestClock:
        clock.now = start + timedelta(minutes=minutes)
        return clock

    with db.transaction() as s:
        client = s.get(ClientCase, case).client_id  # type: ignore[union-attr]
        partner = add_partner(s, "Terveysasema", PartnerKind.HEALTH_CARE).id
        assign(s, case, "aino", AssignmentReason.INITIAL, at(1)(), by="tiina")
        consent = record_consent(s, client, partner, "terveystarkastus", at(2)(), "aino").id
        version = save_plan(s, case, PlanDraft(
            goals=[Goal("Työkokeilu", start.date() + timedelta(days=90), "aino", main=True)],
            services=[PlannedService(ServiceType.HEALTH_CHECK, "Terveysasema", "hoitaja",
                                     start.date() + timedelta(days=30), partner_id=partner,
                                     description="Terveystarkastus")]), "aino", at(3)())
        item = next(i for i in version.items if i.partner_id == partner)
        referral = record_referral(s, item, case, by="aino", consent_id=consent, at=at(4)()).referral_id
        assert referral is not None
    with db.transaction() as s:
        record_answer(s, referral, "accepted", None, "hoitaja.hilkka", at(5)())
        author = load_staff(s, "cecilia")
        assert author is not None
        add_note(s, case, author, "Asiakas tavattu", Visibility.CASE_TEAM, at(6)())
        letter = Letter(case_id=case, client_id=client, kind=LetterKind.CASE_MANAGER_NAMED, language="fi",
                        key="test:letter", title="Asiakasvastaavasi", case_manager_id="aino", pdf=b"%PDF-1.7",
                        delivery=Delivery.PRINT, created_at=at(7)())
        s.add(letter)
        s.flush()
        mark_delivered(s, letter.id, HowDelivered.HANDED_OVER, at(8)(), "aino")
    task = engine.open_tasks(case)[0]
    at(9)
    engine.claim(task.id, "aino", actor="aino")
    engine.complete_task(task.id, {}, actor="aino")
    with db.transaction() as s:
        assign(s, case, "bertta", AssignmentReason.WORKLOAD, at(10)(), by="tiina", note="Työmäärä")
        revoke_consent(s, consent, at(11)(), "bertta")

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with db.read() as s:
        bind = s.get_bind()
        event.listen(bind, "before_cursor_execute", count)
        try:
            entries = case_timeline(s, case)
        finally:
            event.remove(bind, "before_cursor_execute", count)
    steps = [e for e in entries if e.kind == Kind.STEP]  # the process's own steps (its start and end events)
    kinds = [(int((e.at - start).total_seconds() // 60), e.kind) for e in entries if e.kind != Kind.STEP]
    expected = [(0, Kind.OPENED), (1, Kind.CASE_MANAGER), (2, Kind.CONSENT), (3, Kind.PLAN), (4, Kind.REFERRAL),
                (5, Kind.ANSWER), (6, Kind.NOTE), (7, Kind.LETTER), (8, Kind.LETTER)]
    assert kinds[:len(expected)] == expected
    assert kinds[len(expected):] == [(9, Kind.TASK_EVENT), (9, Kind.TASK), (10, Kind.CASE_MANAGER),
                                     (11, Kind.CONSENT_REVOKED)]
    by_kind = {e.kind: e for e in entries}
    assert (by_kind[Kind.TASK].subject, by_kind[Kind.TASK].actor_name) == ("work", "Aino Esimerkki")
    assert by_kind[Kind.NOTE].text == "Asiakas tavattu" and by_kind[Kind.NOTE].actor_name == "Cecilia Testinen"
    assert by_kind[Kind.ANSWER].state == "accepted" and by_kind[Kind.ANSWER].name == "Terveysasema"
    assert by_kind[Kind.REFERRAL].text == "Terveystarkastus" and by_kind[Kind.REFERRAL].actor_name == "Aino Esimerkki"
    managers = [e for e in entries if e.kind == Kind.CASE_MANAGER]
    assert [(m.name, m.state, m.actor_name) for m in managers] == [
        ("Aino Esimerkki", "initial", "Tiina Tiiminvetäjä"),
        ("Bertta Kuvitteellinen", "workload", "Tiina Tiiminvetäjä")]
    letters = [e for e in entries if e.kind == Kind.LETTER]
    assert [(e.data["event"], e.state) for e in letters] == [("written", "print"), ("delivered", "handed_over")]
    assert [e.subject for e in steps] == ["start", "end"]
    assert len(statements) <= 15, statements  # one query per kind, not one per row


def test_the_summary_says_who_the_case_manager_is_and_whether_the_client_was_told(
        db: Database, clock: TestClock, keys: IdentityCodeKeys, staff: None, new_case: Callable[..., str]) -> None:
    case = new_case()
    with db.read() as s:
        summary = case_summary(s, case, clock(), keys)
    assert summary.case_manager is None and summary.client_told is None
    assert summary.client_name == "Testi Asiakas 1" and summary.client_age == 36  # born 1.1.1990, now 2026
    assert [step.element_id for step in summary.steps] == ["work"]
    with db.transaction() as s:
        assign(s, case, "aino", AssignmentReason.INITIAL, clock())
        client = s.get(ClientCase, case).client_id  # type: ignore[union-attr]
        s.add(Letter(case_id=case, client_id=client, kind=LetterKind.CASE_MANAGER_NAMED, language="fi",
                     key="test:named", title="Asiakasvastaavasi", case_manager_id="aino", pdf=b"%PDF-1.7",
                     delivery=Delivery.PRINT, created_at=clock()))
    with db.read() as s:
        summary = case_summary(s, case, clock(), keys)
    assert summary.case_manager is not None and summary.case_manager.name == "Aino Esimerkki"
    assert summary.case_manager.email == "aino@example.invalid"
    assert summary.letter is not None and summary.letter.delivered_at is None and summary.client_told is None
    with db.transaction() as s:
        letter_id = s.scalar(select(Letter.id))
        assert letter_id is not None
        mark_delivered(s, letter_id, HowDelivered.PRINTED_AND_POSTED, clock() + timedelta(days=1), "aino")
    with db.read() as s:
        summary = case_summary(s, case, clock(), keys)
    assert summary.client_told == clock() + timedelta(days=1)
    assert summary.as_json()["caseManager"]["name"] == "Aino Esimerkki"
