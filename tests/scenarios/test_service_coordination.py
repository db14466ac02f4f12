"""bpmn/service-coordination.bpmn as the case manager and the network partners live it, with the real handlers.

The consent recorded in `obtain_consent` lets the referral go; the partner gets a link and no client data; a
silent partner is reminded and then the case manager chooses; the partner answers in steps, by referral id.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from casework.access_log import DisclosureLogEntry
from casework.consent import Consent, ConsentGiver, ConsentMethod
from casework.errors import NotFound
from casework.network import responsibilities
from casework.notification import OutboxMessage
from casework.service_referral import (
    IllegalAnswer,
    ReferralAnswer,
    ServiceReferral,
    ServiceStatus,
    answer_referral,
    open_referrals_for_partner,
)
from casework.users import Role
from tests.scenarios.conftest import BROAD, World
from tests.webapp.support import app_client, basic
from tests.workers.test_mail import Inbox, smtp, text_of  # noqa: F401  (smtp: the real SMTP server fixture)
from workers.mail import send_due
from workers.services import MailSettings

MANAGER = "koordinaattori.anna"
WITNESS = "Kuvitteellinen Todistaja"


def named(world: World, name: str, **referral: Any) -> str:
    case = world.refer(name, **referral)
    world.task(case, "needs_mapping", BROAD, actor=MANAGER)
    world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": MANAGER}, actor=MANAGER)
    return case


def planned(world: World, name: str, *partners: str, consent: bool = True, **referral: Any) -> str:
    case = named(world, name, **referral)
    for partner in partners:
        if consent:
            world.consent(case, partner)
    world.task(case, "make_plan", world.plan(*partners), actor=MANAGER)
    return case


def referral(world: World, case: str, partner: str) -> ServiceReferral:
    with world.engine.db.transaction() as session:
        row = session.get(ServiceReferral, int(world.service_ids(case)[partner]))
        assert row is not None, f"no referral for {partner}"
        session.expunge(row)
        return row


def outbox(world: World, case: str, recipient_prefix: str = "") -> list[OutboxMessage]:
    with world.engine.db.transaction() as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case)
                                    .order_by(OutboxMessage.id)))
        for row in rows:
            session.expunge(row)
    return [m for m in rows if m.recipient.startswith(recipient_prefix)]


def disclosed_to(world: World, case: str) -> list[int]:
    with world.engine.db.transaction() as session:
        return [d.partner_id for d in session.scalars(select(DisclosureLogEntry).where(
            DisclosureLogEntry.case_id == case).order_by(DisclosureLogEntry.id))]


def consents(world: World) -> list[tuple[int, ConsentGiver | None, ConsentMethod | None, str | None]]:
    with world.engine.db.transaction() as session:
        return [(c.partner_id, c.given_by, c.method, c.witness)
                for c in session.scalars(select(Consent).order_by(Consent.id))]


# -- consent -------------------------------------------------------------------------------------------------

def test_consent_recorded_in_obtain_consent_lets_the_referral_proceed(world: World) -> None:
    case = planned(world, "Kuvitteellinen Mäkelä", "health", consent=False)
    assert world.open_tasks(case) == ["obtain_consent"] and disclosed_to(world, case) == []
    world.task(case, "obtain_consent", {"consentObtained": True, "consentGivenBy": "guardian", "consentMethod": "oral",
                                        "consentWitness": WITNESS}, actor=MANAGER)
    assert "obtain_consent" not in world.open_tasks(case)
    assert consents(world) == [(world.partners["health"], ConsentGiver.GUARDIAN, ConsentMethod.ORAL, WITNESS)]
    assert disclosed_to(world, case) == [world.partners["health"]]
    row = referral(world, case, "health")
    assert row.status is ServiceStatus.REQUESTED and row.referral_id
    mail = outbox(world, case, "partner:")
    assert [(m.recipient, m.to_address) for m in mail] == [(f"partner:{world.partners['health']}",
                                                             "health@example.invalid")]
    assert f"/partner/referrals/{row.referral_id}" in mail[0].body
    assert "Mäkelä" not in mail[0].body + mail[0].subject and "health_check" not in mail[0].body


def test_a_consent_without_how_it_was_given_sends_the_task_back_saying_what_is_missing(world: World) -> None:
    case = planned(world, "Keksitty Rantanen", "health", consent=False)
    world.task(case, "obtain_consent", {"consentObtained": True}, actor=MANAGER)
    assert world.open_tasks(case) == ["obtain_consent"]
    world.task(case, "obtain_consent", {"consentObtained": True, "consentMethod": "oral"}, actor=MANAGER)
    assert world.open_tasks(case) == ["obtain_consent"]  # oral, but no witness named
    assert disclosed_to(world, case) == [] and consents(world) == []
    world.task(case, "obtain_consent", {"consentObtained": True, "consentMethod": "written",
                                        "consentDate": world.clock.now.date().isoformat()}, actor=MANAGER)
    assert world.open_tasks(case) == [] and disclosed_to(world, case) == [world.partners["health"]]


def test_a_client_who_refuses_consent_ends_that_service_as_no_consent(world: World) -> None:
    case = named(world, "Harjoitus Lehtonen")
    world.consent(case, "employment")  # but not for the health centre
    world.task(case, "make_plan", world.plan("employment", "health"), actor=MANAGER)
    assert world.open_tasks(case) == ["obtain_consent"]
    world.task(case, "obtain_consent", {"consentObtained": False, "consentNotes": "Asiakas ei halua"}, actor=MANAGER)
    assert world.open_tasks(case) == []
    assert referral(world, case, "health").status is ServiceStatus.NO_CONSENT
    assert referral(world, case, "employment").status is ServiceStatus.REQUESTED
    assert disclosed_to(world, case) == [world.partners["employment"]]


def test_a_client_who_refused_at_referral_is_referred_only_after_consent_is_recorded_for_the_service(
        world: World) -> None:
    case = planned(world, "Malli Hiltunen", "employment", referralConsent=False)  # a consent on file, but...
    assert world.open_tasks(case) == ["obtain_consent"] and disclosed_to(world, case) == []
    world.task(case, "obtain_consent", {"consentObtained": True, "consentMethod": "written"}, actor=MANAGER)
    assert disclosed_to(world, case) == [world.partners["employment"]]


# -- a silent partner ---------------------------------------------------------------------------------------

def test_a_partner_who_never_answers_is_reminded_and_then_the_case_manager_chooses(world: World) -> None:
    case = planned(world, "Testi Partanen", "employment")
    first = referral(world, case, "employment")
    assert [t for t, _ in world.engine.waiting_timers(case, "reminder_due")]
    (_, due), = world.engine.waiting_timers(case, "reminder_due")
    assert due == first.referred_at + timedelta(days=7)  # type: ignore[operator]
    world.fire(case, "reminder_due")
    mail = outbox(world, case, "partner:")
    assert len(mail) == 2 and "muistutus" in mail[1].subject.lower()
    assert f"/partner/referrals/{first.referral_id}" in mail[1].body and "Partanen" not in mail[1].body
    assert world.open_tasks(case) == []
    world.fire(case, "escalation_due")
    assert world.engine.waiting_timers(case, "follow_up_due")  # the silent partner holds up no follow-up
    chase = [t for t in world.engine.open_tasks(case) if t.element_id == "chase_partner"]
    assert [t.assignee for t in chase] == [MANAGER]
    world.task(case, "chase_partner", {"chaseDecision": "chase", "chaseNotes": "Soitettu"}, actor=MANAGER)
    assert len(outbox(world, case, "partner:")) == 3 and world.open_tasks(case) == []
    world.fire(case, "escalation_due")  # still nothing: the case manager drops it
    world.task(case, "chase_partner", {"chaseDecision": "drop"}, actor=MANAGER)
    assert referral(world, case, "employment").status is ServiceStatus.DROPPED
    assert world.open_tasks(case) == [] and not world.engine.waiting_timers(case, "escalation_due")
    with world.engine.db.transaction() as session, pytest.raises(IllegalAnswer, match="already dropped"):
        answer_referral(session, str(first.referral_id), "accepted", None, "partner", world.clock())


def test_the_case_manager_can_send_a_silent_partner_s_referral_to_another_provider(world: World) -> None:
    case = planned(world, "Demo Kettunen", "employment")
    world.consent(case, "ngo")
    first = referral(world, case, "employment")
    world.fire(case, "reminder_due")
    world.fire(case, "escalation_due")
    world.task(case, "chase_partner", {"chaseDecision": "other_provider", "referralPartnerId": world.partners["ngo"]},
               actor=MANAGER)
    second = referral(world, case, "employment")
    assert second.partner_id == world.partners["ngo"] and second.referral_id != first.referral_id
    assert disclosed_to(world, case) == [world.partners["employment"], world.partners["ngo"]]
    assert [m.to_address for m in outbox(world, case, "partner:")][-1] == "ngo@example.invalid"
    with world.engine.db.transaction() as session:  # the case's network now names the new provider, not the old
        assert [r.partner_id for r in responsibilities(session, case, at=world.clock())] == [world.partners["ngo"]]
    with world.engine.db.transaction() as session:
        with pytest.raises(NotFound):  # the former partner's link answers nothing now
            answer_referral(session, str(first.referral_id), "accepted", None, "partner", world.clock())
        assert [r.referral_id for r in open_referrals_for_partner(session, world.partners["ngo"])] == [
            second.referral_id]
        assert open_referrals_for_partner(session, world.partners["employment"]) == []


# -- answers in steps -----------------------------------------------------------------------------------------

def test_stepwise_answers_by_referral_id_move_the_service_and_tell_the_case_manager(world: World) -> None:
    case = planned(world, "Koe Turunen", "health")
    rid = str(referral(world, case, "health").referral_id)
    answer_referral(world.engine, rid, "accepted", None, "terveysasema.liisa", world.clock())
    world.work()
    assert referral(world, case, "health").status is ServiceStatus.ACCEPTED
    assert world.engine.waiting_timers(case, "start_overdue") and not world.engine.waiting_timers(case, "reminder_due")
    with world.engine.db.transaction() as session, pytest.raises(IllegalAnswer, match="next answer can be started"):
        answer_referral(session, rid, "done", "Valmis", "terveysasema.liisa", world.clock())
    answer_referral(world.engine, rid, "started", None, "terveysasema.liisa", world.clock())
    world.work()
    assert not world.engine.waiting_timers(case, "start_overdue")
    with world.engine.db.transaction() as session, pytest.raises(IllegalAnswer, match="needs its outcome"):
        answer_referral(session, rid, "done", " ", "terveysasema.liisa", world.clock())
    answer_referral(world.engine, rid, "done", "Terveystarkastus tehty, jatkoon työkykyarvio", "terveysasema.liisa",
                    world.clock())
    world.work()
    row = referral(world, case, "health")
    assert row.status is ServiceStatus.DONE and row.outcome_text == "Terveystarkastus tehty, jatkoon työkykyarvio"
    with world.engine.db.transaction() as session:
        answers = session.scalars(select(ReferralAnswer).order_by(ReferralAnswer.id)).all()
        assert [(a.answer.value, a.answered_by) for a in answers] == [
            ("accepted", "terveysasema.liisa"), ("started", "terveysasema.liisa"), ("done", "terveysasema.liisa")]
        with pytest.raises(IllegalAnswer, match="already done"):
            answer_referral(session, rid, "started", None, "terveysasema.liisa", world.clock())
    staff = outbox(world, case, "staff:")
    assert [m.recipient for m in staff][-3:] == [f"staff:{MANAGER}"] * 3
    assert all("Turunen" not in m.body + m.subject and "Terveystarkastus" not in m.body for m in staff)
    assert "service_ended" in [e["id"] for e in _history(world, case)]


def _history(world: World, case: str) -> list[dict[str, Any]]:
    from engine.models import HistoryEvent

    with world.engine.db.transaction() as session:
        return [{"id": h.element_id} for h in session.scalars(select(HistoryEvent).where(HistoryEvent.case_id == case))]


def test_a_refusal_lets_the_case_manager_choose_another_provider(world: World) -> None:
    case = planned(world, "Esimerkki Laakso", "health")
    world.consent(case, "ngo")
    rid = str(referral(world, case, "health").referral_id)
    answer_referral(world.engine, rid, "refused", None, "terveysasema", world.clock())
    world.work()
    assert world.open_tasks(case) == ["find_alternative"]
    world.task(case, "find_alternative", {"alternativeDecision": "other_provider",
                                          "referralPartnerId": world.partners["ngo"]}, actor=MANAGER)
    row = referral(world, case, "health")
    assert row.partner_id == world.partners["ngo"] and row.status is ServiceStatus.REQUESTED


def test_the_overdue_alert_comes_on_the_service_s_own_start_due_date(world: World) -> None:
    case = named(world, "Testi Vainio")
    world.consent(case, "employment")
    plan = world.plan("employment")
    start_due = (world.clock.now + timedelta(days=45)).date()
    plan["services"][0]["startDue"] = start_due.isoformat()
    world.task(case, "make_plan", plan, actor=MANAGER)
    rid = str(referral(world, case, "employment").referral_id)
    answer_referral(world.engine, rid, "accepted", None, "tyollisyyspalvelut", world.clock())
    world.work()
    (_, due), = world.engine.waiting_timers(case, "start_overdue")
    assert due.date() == start_due + timedelta(days=1)
    before = len(outbox(world, case, "staff:"))
    world.fire(case, "start_overdue")
    alerts = outbox(world, case, "staff:")[before:]
    assert [m.recipient for m in alerts] == [f"staff:{MANAGER}"] and "myöhässä" in alerts[0].subject
    answer_referral(world.engine, rid, "started", None, "tyollisyyspalvelut", world.clock())  # late, but it came
    world.work()
    assert referral(world, case, "employment").status is ServiceStatus.STARTED
    assert not world.engine.waiting_timers(case, "start_overdue")


# -- through /engine-rest/message and real SMTP ---------------------------------------------------------------

BASE_URL = "https://polku.example.invalid"


def answer_by_rest(client: Any, referral_id: str, decision: str, outcome: str | None = None, **extra: Any) -> Any:
    variables = {"partnerDecision": {"value": decision, "type": "String"}}
    if outcome is not None:
        variables["outcome"] = {"value": outcome, "type": "String"}
    return client.post("/engine-rest/message", headers=basic("integ"), json={
        "messageName": "partnerAnswer", "correlationKeys": {"referralId": {"value": referral_id, "type": "String"}},
        "processVariables": variables, **extra})


def test_answers_by_referral_id_through_engine_rest_reach_the_partner_and_the_case_manager_by_mail(
        world: World, smtp: tuple[Inbox, int]) -> None:  # noqa: F811 - the fixture imported above
    inbox, port = smtp
    world.services = dataclasses.replace(world.services, base_url=BASE_URL)
    case = planned(world, "Kuvitteellinen Salminen", "health")
    rid = str(referral(world, case, "health").referral_id)
    client = app_client(world.engine, {"integ": Role.INTEGRATION})
    refused = answer_by_rest(client, rid, "done", "Valmis")
    assert refused.status_code == 400 and "the next answer can be accepted or refused or not_available" in \
        refused.get_json()["message"]
    assert answer_by_rest(client, "no-such-referral", "accepted").status_code == 400
    assert answer_by_rest(client, rid, "accepted").status_code == 204
    assert answer_by_rest(client, rid, "accepted").status_code == 400  # said once; a second time is refused
    world.work()
    assert referral(world, case, "health").status is ServiceStatus.ACCEPTED
    assert answer_by_rest(client, rid, "started", resultEnabled=True).get_json()[0]["execution"]["id"] == case
    done = answer_by_rest(client, rid, "done", "Terveystarkastus tehty")
    assert done.status_code == 204
    world.work()
    assert referral(world, case, "health").status is ServiceStatus.DONE
    mailer = dataclasses.replace(world.services, mail=MailSettings("127.0.0.1", port, timeout_s=5))
    send_due(mailer)
    to_partner = inbox.to("health@example.invalid")
    assert len(to_partner) == 1 and f"{BASE_URL}/partner/referrals/{rid}" in text_of(to_partner[0])
    to_manager = inbox.to(f"{MANAGER}@example.invalid")
    assert len(to_manager) == 3 and all("verkostotoimija vastasi" in m["Subject"].lower() for m in to_manager)
    for message in [*to_partner, *to_manager]:
        body = text_of(message)
        assert "Salminen" not in body + message["Subject"] and "Terveystarkastus" not in body


def test_the_older_answer_by_business_key_and_service_id_is_checked_the_same_way(world: World) -> None:
    case = planned(world, "Esimerkki Heikkilä", "employment")
    client = app_client(world.engine, {"integ": Role.INTEGRATION})
    service_id = world.service_ids(case)["employment"]
    business_key = world.engine.case(case)["businessKey"]

    def legacy(decision: str) -> Any:
        return client.post("/engine-rest/message", headers=basic("integ"), json={
            "messageName": "partnerAnswer", "businessKey": business_key, "processVariables": {
                "answeredServiceId": {"value": service_id}, "partnerDecision": {"value": decision}}})

    assert legacy("started").status_code == 400
    assert legacy("not_available").status_code == 204
    world.work()
    assert referral(world, case, "employment").status is ServiceStatus.NOT_AVAILABLE
    assert world.open_tasks(case) == ["find_alternative"]


# -- the plan form's list of services ---------------------------------------------------------------------------

def test_the_plan_form_s_planned_services_as_objects_and_then_as_ids_of_the_services_kept(world: World) -> None:
    case = named(world, "Testi Jokinen")
    world.consent(case, "ngo")
    form = world.plan()
    start_due = (world.clock.now + timedelta(days=20)).date()
    form.pop("services")
    form["plannedServices"] = [{"type": "rehabilitative_work_activity", "providerOrganisation": "Kuvitteellinen paja",
                                "providerId": world.partners["ngo"], "responsiblePerson": "Keksitty Ohjaaja",
                                "startDue": start_due.isoformat(), "consentToShare": True}]
    world.task(case, "make_plan", form, actor=MANAGER)
    (item,) = [i for i in world.plans(case)[-1].items if i.service_type is not None]
    assert (item.provider_organisation, item.responsible, item.due, item.consent_to_share) == (
        "Kuvitteellinen paja", "Keksitty Ohjaaja", start_due, True)
    assert disclosed_to(world, case) == [world.partners["ngo"]]
    kept = world.engine.case(case)["variables"]["plannedServices"]
    assert kept == [str(item.id)]
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {"followUpDecision": "revise_plan", "goalProgress": "ongoing"},
               actor=MANAGER)
    revision = world.plan()
    revision.pop("services")
    revision["plannedServices"] = kept  # the services kept, by id
    world.task(case, "make_plan", revision, actor=MANAGER)
    (carried,) = [i for i in world.plans(case)[-1].items if i.service_type is not None]
    assert (carried.partner_id, carried.due, carried.consent_to_share) == (world.partners["ngo"], start_due, True)
    assert disclosed_to(world, case) == [world.partners["ngo"]]  # a kept service is not referred again
