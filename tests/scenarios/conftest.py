"""A deployed bpmn/ with the real handlers, staff, network partners and a clock the scenarios move."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from casework.client import find_by_identity_code
from casework.client_case import ClientCase
from casework.consent import record_consent
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.letter import letters_of_case
from casework.network import PartnerKind, add_partner
from casework.notification import messages_of_case
from casework.plan import ItemKind, PlanItem, PlanVersion, plan_versions
from casework.referral import receive_referral
from casework.service_referral import referrals_of_case
from casework.users import Role, add_user
from engine.runtime import Engine
from polku.resources import collect_dir
from polku.settings import ROOT
from tests.conftest import TestClock
from workers.builtins import load
from workers.runner import run_until_idle
from workers.services import Services

STAFF = [
    ("koordinaattori.anna", "Anna Koordinaattori", [Role.COORDINATOR], "040 111 0001"),
    ("koordinaattori.ville", "Ville Koordinaattori", [Role.COORDINATOR], "040 111 0002"),
    ("sosiaalityo.pekka", "Pekka Sosiaalityöntekijä", [Role.CASE_MANAGER], "040 111 0003"),
    ("esihenkilo.maria", "Maria Esihenkilö", [Role.TEAM_LEAD], "040 111 0004"),
]
LIGHT = {"physicalRating": 1, "psychologicalRating": 1, "socialRating": 0, "cognitiveRating": 0, "pathClear": True,
         "hasOwnWorker": False, "socialWelfareClient": False, "motivation": "high",
         "clientView": "Haluan takaisin työelämään osa-aikaisesti."}
BROAD = {"physicalRating": 2, "psychologicalRating": 3, "socialRating": 2, "cognitiveRating": 1, "pathClear": False,
         "hasOwnWorker": False, "socialWelfareClient": False, "motivation": "some",
         "existingServices": "Työllisyyspalvelut; terveysasema", "clientView": "En tiedä, mistä saisin apua."}
UNCLEAR = {**BROAD, "physicalRating": 1, "psychologicalRating": 1, "socialRating": 1}


@dataclass
class World:
    """The process as the staff and the partners drive it; jobs run through the real handlers."""

    engine: Engine
    services: Services
    clock: TestClock
    partners: dict[str, int] = field(default_factory=dict)
    referred: int = 0

    def __post_init__(self) -> None:
        self.registry = load()

    # -- people acting ----------------------------------------------------------------------------
    def refer(self, name: str, code: str | None = None, language: str = "fi", email: str | None = "auto",
              **extra: Any) -> str:
        """A referral message from the employment services; returns the new engine case id."""
        self.referred += 1
        code = code or fictitious_code(date(1980, 1, 1) + timedelta(days=400 * self.referred), 900 + self.referred)
        first = name.split()[0].lower()
        variables = {"clientName": name, "personalId": code, "language": language, "phone": "050 000 0000",
                     "email": f"{first}@example.invalid" if email == "auto" else email,
                     "referralReason": "Pitkä työttömyys ja terveysongelmat", "referralConsent": True,
                     "urgency": "normal", "referrer": "Työllisyyspalvelut", **extra}
        with self.engine.db.transaction() as session:  # as every referral: the client record first
            received = receive_referral(session, self.services.keys, variables, self.clock())
        started = self.engine.correlate("referral", business_key=f"REF-{self.referred:03d}", variables=received)
        self.work()
        return started[0]

    def task(self, case_id: str, element: str, data: Mapping[str, Any] | None = None, actor: str = "test") -> None:
        tasks = [t for t in self.engine.open_tasks(case_id) if t.element_id == element]
        assert tasks, f"no open task {element}; open: {self.open_tasks(case_id)}"
        self.engine.complete_task(tasks[0].id, dict(data or {}), actor=actor)
        self.work()

    def message(self, name: str, case_id: str, **variables: Any) -> None:
        self.engine.correlate(name, business_key=self.engine.case(case_id)["businessKey"], variables=variables)
        self.work()

    def fire(self, case_id: str, element: str) -> None:
        """Moves the clock past the timer's due time and fires it, as the scheduler would."""
        timers = self.engine.waiting_timers(case_id, element)
        assert timers, f"no timer {element} waiting in case {case_id}"
        for timer_id, due in timers:
            if due > self.clock.now:
                self.clock.now = due + timedelta(minutes=1)
            self.engine.fire_timer(timer_id, at=self.clock.now)
        self.work()

    def consent(self, case_id: str, partner: str) -> None:
        """The client signs a consent for one partner (recorded by the case manager in the case page)."""
        with self.engine.db.transaction() as session:
            client_id = session.get(ClientCase, case_id).client_id  # type: ignore[union-attr]
            record_consent(session, client_id, self.partners[partner], "palveluun ohjaus ja yhteistyö",
                           self.clock(), recorded_by="koordinaattori.anna")

    def plan(self, *services: str, revision: bool = False) -> dict[str, Any]:
        """The plan form's values with one planned service per partner label."""
        due = (self.clock.now + timedelta(days=30)).date().isoformat()
        kinds = {"employment": "work_trial", "health": "health_check", "ngo": "rehabilitative_work_activity"}
        providers = {"employment": "Työllisyyspalvelut", "health": "Terveysasema", "ngo": "Kuvitteellinen työpaja ry"}
        return {"mainGoal": "Työkokeilu omalla alalla" if not revision else "Osa-aikatyö omalla alalla",
                "intermediateGoals": [{"goal": "Terveystarkastus tehty", "targetDate": due},
                                      {"goal": "Kuntouttava työtoiminta aloitettu", "targetDate": due}],
                "divisionOfLabour": "Asiakasvastaava koordinoi; työllisyyspalvelut vastaa työkokeilusta",
                "clientTasks": [{"task": "Kykyviisari-itsearvio ennen seuraavaa tapaamista", "due": due}],
                "followUpInterval": "P3M",
                "nextMeeting": due, "clientAgreed": True,
                "services": [{"serviceType": kinds[p], "provider": providers[p], "partnerId": self.partners[p],
                              "responsible": f"Kuvitteellinen yhteyshenkilö ({providers[p]})", "startDue": due}
                             for p in services]}

    def service_ids(self, case_id: str) -> dict[str, str]:
        """The case's planned services by partner label (newest plan version's item wins)."""
        labels = {v: k for k, v in self.partners.items()}
        with self.engine.db.transaction() as session:
            items = session.scalars(select(PlanItem).join(PlanVersion).where(
                PlanVersion.case_id == case_id, PlanItem.kind == ItemKind.SERVICE).order_by(PlanItem.id)).all()
            return {labels[i.partner_id]: str(i.id) for i in items if i.partner_id in labels}

    def answer(self, case_id: str, partner: str, decision: str = "accepted") -> None:
        self.message("partnerAnswer", case_id, answeredServiceId=self.service_ids(case_id)[partner],
                     partnerDecision=decision)

    def work(self) -> int:
        return run_until_idle(self.engine, self.registry, self.services)

    # -- what the scenarios look at ---------------------------------------------------------------
    def open_tasks(self, case_id: str) -> list[str]:
        return sorted(t.element_id for t in self.engine.open_tasks(case_id))

    def status(self, case_id: str) -> str:
        return str(self.engine.case(case_id)["status"])

    def client_case_of(self, case_id: str) -> ClientCase:
        with self.engine.db.transaction() as session:
            record = session.get(ClientCase, case_id)
            assert record is not None, f"case {case_id} has no casework record"
            return record

    def plans(self, case_id: str) -> list[PlanVersion]:
        with self.engine.db.transaction() as session:
            return plan_versions(session, case_id)

    def referral_outcomes(self, case_id: str) -> dict[str, tuple[str | None, bool]]:
        """Service id -> (the partner's answer or no_consent, whether the referral was sent)."""
        with self.engine.db.transaction() as session:
            return {str(r.plan_item_id): (r.outcome.value if r.outcome else None, r.referred_at is not None)
                    for r in referrals_of_case(session, case_id)}

    def letters(self, case_id: str) -> list[str]:
        """The kinds of the letters written to the client, oldest first."""
        with self.engine.db.transaction() as session:
            return [letter.kind.value for letter in letters_of_case(session, case_id)]

    def mail(self, case_id: str) -> list[str]:
        """The recipients of the case's mail in the outbox (client:<id> or staff:<user id>), oldest first."""
        with self.engine.db.transaction() as session:
            return [m.recipient for m in messages_of_case(session, case_id)]

    def client_case(self, code: str) -> ClientCase | None:
        with self.engine.db.transaction() as session:
            client = find_by_identity_code(session, self.services.keys, code)
            if client is None:
                return None
            return session.scalar(select(ClientCase).where(ClientCase.client_id == client.id))


def make_world(engine: Engine, clock: TestClock, secret: str | None = None) -> World:
    """bpmn/ deployed with the staff and the partners added (also for tests/fixtures/make_saved_states.py)."""
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    services = Services(engine.db, clock, IdentityCodeKeys(secret or secrets.token_urlsafe(32)), None, engine)
    result = World(engine, services, clock)
    with engine.db.transaction() as session:
        for user_id, name, roles, phone in STAFF:
            add_user(session, user_id, name, roles, clock(), email=f"{user_id}@example.invalid", phone=phone)
        for label, organisation, kind in [("employment", "Työllisyyspalvelut", PartnerKind.EMPLOYMENT_SERVICES),
                                          ("health", "Terveysasema", PartnerKind.HEALTH_CARE),
                                          ("ngo", "Kuvitteellinen työpaja ry", PartnerKind.NGO)]:
            result.partners[label] = add_partner(session, organisation, kind, email=f"{label}@example.invalid").id
    return result


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    return make_world(engine, clock)
