"""Demo data for the embedded default: staff, network partners and fictitious clients at every step.

Every case is driven as people would drive it (referral messages, tasks, partner answers, timers) and
its jobs run through Polku's own handlers, so the casework records (clients, case manager history,
plans, consents, disclosures, letters, mail in the outbox) are exactly what the process produces.
Names are clearly fictitious (a real-looking Finnish surname with an obviously made-up first name) and
identity codes come from the 900-999 series no real person has.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from casework.client_case import ClientCase
from casework.consent import record_consent
from casework.identity_code import fictitious_code
from casework.network import PartnerKind, add_partner
from casework.plan import ItemKind, PlanItem, PlanVersion
from casework.referral import receive_referral
from casework.users import Role, add_user
from workers.builtins import load
from workers.runner import run_until_idle
from workers.services import Services

KEY = "work_ability_support"
STAFF = [
    ("koordinaattori.anna", "Anna Kuvitelma", [Role.COORDINATOR], "040 000 1001"),
    ("koordinaattori.ville", "Ville Keksitty", [Role.COORDINATOR], "040 000 1002"),
    ("sosiaalityo.pekka", "Pekka Esimerkki", [Role.CASE_MANAGER], "040 000 1003"),
    ("esihenkilo.maria", "Maria Malli", [Role.TEAM_LEAD, Role.MANAGER], "040 000 1004"),
    ("tiimi.terttu", "Terttu Testi", [Role.COORDINATOR], "040 000 1005"),
]
PARTNERS = [  # (label, organisation, kind, unit)
    ("employment", "Työllisyyspalvelut (kuvitteellinen kunta)", PartnerKind.EMPLOYMENT_SERVICES, "Työkykytiimi"),
    ("health", "Terveysasema Esimerkkilä", PartnerKind.HEALTH_CARE, "Työttömien terveyspalvelut"),
    ("kela", "Kela", PartnerKind.KELA, "Kuntoutus"),
    ("ngo", "Kuvitteellinen työpaja ry", PartnerKind.NGO, None),
]

# (client name, step the case is driven to, case manager)
DEMO = [
    ("Testi Aaltonen", "mapping-escalated", None),
    ("Malli Virtanen", "mapping", None),
    ("Esimerkki Korhonen", "mapping", None),
    ("Demo Nieminen", "referral", None),
    ("Kuvitteellinen Mäkinen", "decision", None),
    ("Harjoitus Laine", "decision", None),
    ("Koe Heikkinen", "team-review", None),
    ("Keksitty Järvinen", "team-review", None),
    ("Testi Lehtonen", "basic-services", None),
    ("Malli Saarinen", "basic-services", None),
    ("Esimerkki Salminen", "own-worker", None),
    ("Demo Heinonen", "duplicate", None),
    ("Kuvitteellinen Niemi", "plan", "koordinaattori.anna"),
    ("Harjoitus Heikkilä", "plan", "sosiaalityo.pekka"),
    ("Koe Kinnunen", "services", "koordinaattori.anna"),
    ("Keksitty Salonen", "services", "koordinaattori.ville"),
    ("Testi Turunen", "services", "sosiaalityo.pekka"),
    ("Malli Tuominen", "no-consent", "koordinaattori.anna"),
    ("Esimerkki Rantanen", "follow-up", "koordinaattori.ville"),
    ("Demo Karjalainen", "follow-up", "koordinaattori.anna"),
    ("Kuvitteellinen Jokinen", "follow-up", "sosiaalityo.pekka"),
    ("Harjoitus Mattila", "follow-up-review", "koordinaattori.ville"),
    ("Koe Savolainen", "follow-up-review", "koordinaattori.anna"),
    ("Keksitty Lahtinen", "revised-plan", "koordinaattori.ville"),
    ("Testi Raatikainen", "handover", "koordinaattori.anna"),
    ("Malli Hiltunen", "handover-meeting", "sosiaalityo.pekka"),
    ("Esimerkki Leinonen", "closed", "koordinaattori.ville"),
    ("Demo Miettinen", "closed", "koordinaattori.anna"),
    ("Kuvitteellinen Pitkänen", "change-requested", "koordinaattori.ville"),
    ("Harjoitus Hirvonen", "change-handover", "koordinaattori.anna"),
    ("Koe Väisänen", "follow-up", "koordinaattori.ville"),
    ("Keksitty Laitinen", "services", "sosiaalityo.pekka"),
]

# Needs mapping answers: light needs with a clear path (basic services), an own worker, or broad needs.
LIGHT = {"physicalRating": 1, "psychologicalRating": 1, "socialRating": 0, "cognitiveRating": 0, "pathClear": True,
         "hasOwnWorker": False, "socialWelfareClient": False, "motivation": "high",
         "clientView": "Haluan takaisin työelämään osa-aikaisesti."}
OWN_WORKER = {**LIGHT, "physicalRating": 2, "pathClear": True, "hasOwnWorker": True, "ownWorkerCanHelp": True,
              "ownWorkerName": "Kuvitteellinen omatyöntekijä, aikuissosiaalityö"}
BROAD = {"physicalRating": 2, "psychologicalRating": 3, "socialRating": 2, "cognitiveRating": 1, "pathClear": False,
         "hasOwnWorker": False, "socialWelfareClient": False, "motivation": "some",
         "existingServices": "Työllisyyspalvelut; terveysasema", "clientView": "En tiedä, mistä saisin apua."}
PLAN = {"mainGoal": "Työkokeilu omalla alalla",
        "intermediateGoals": "Terveystarkastus 1 kk; kuntouttava työtoiminta 3 kk",
        "divisionOfLabour": "Asiakasvastaava koordinoi; työllisyyspalvelut vastaa työkokeilusta",
        "clientTasks": "Kykyviisari-itsearvio ennen seuraavaa tapaamista", "followUpInterval": "P3M"}



class Demo:
    """Drives demo cases through the deployed process with the real handlers."""

    def __init__(self, engine: Any, services: Services) -> None:
        self.engine = engine
        self.services = services
        self.registry = load()
        self.partners: dict[str, int] = {}

    def seed(self) -> None:
        """Staff and network partners the demo cases refer to."""
        now = self.services.clock()
        with self.engine.db.transaction() as session:
            for user_id, name, roles, phone in STAFF:
                add_user(session, user_id, name, roles, now, email=f"{user_id}@example.invalid", phone=phone)
            for label, organisation, kind, unit in PARTNERS:
                self.partners[label] = add_partner(session, organisation, kind, unit=unit,
                                                   email=f"{label}@example.invalid").id

    def work(self, key: str) -> None:
        run_until_idle(self.engine, self.registry, self.services, worker_id="demo", business_key=key)

    def task(self, case_id: str, element: str, data: dict[str, Any] | None = None, actor: str = "demo") -> None:
        task = [t for t in self.engine.open_tasks(case_id) if t.element_id == element][0]
        self.engine.complete_task(task.id, data or {}, actor=actor)
        self.work(self.engine.case(case_id)["businessKey"])

    def fire(self, case_id: str, element: str) -> None:
        for timer_id, due in self.engine.waiting_timers(case_id, element):
            self.engine.fire_timer(timer_id, at=due + timedelta(minutes=1))
        self.work(self.engine.case(case_id)["businessKey"])

    def consent(self, case_id: str, *partners: str) -> None:
        with self.engine.db.transaction() as session:
            client_id = session.get(ClientCase, case_id).client_id
            for label in partners:
                record_consent(session, client_id, self.partners[label], "palveluun ohjaus ja tiedonvaihto",
                               self.services.clock(), recorded_by="koordinaattori.anna")

    def plan(self, manager: str) -> dict[str, Any]:
        due = (self.services.clock() + timedelta(days=30)).date().isoformat()
        return {**PLAN, "nextMeeting": due, "clientAgreed": True, "services": [
            {"serviceType": "health_check", "provider": "Terveysasema Esimerkkilä",
             "partnerId": self.partners["health"], "responsible": "Kuvitteellinen terveydenhoitaja", "startDue": due},
            {"serviceType": "work_trial", "provider": "Työllisyyspalvelut (kuvitteellinen kunta)",
             "partnerId": self.partners["employment"], "responsible": "Keksitty työvalmentaja", "startDue": due,
             "description": "Työkokeilu omalla alalla"},
        ]}

    def answer_all(self, case_id: str, key: str) -> None:
        with self.engine.db.transaction() as session:
            ids = list(session.scalars(select(PlanItem.id).join(PlanVersion).where(
                PlanVersion.case_id == case_id, PlanItem.kind == ItemKind.SERVICE)))
        for service_id in ids:
            self.engine.correlate("partnerAnswer", business_key=key,
                                  variables={"answeredServiceId": str(service_id), "partnerDecision": "accepted"})
            self.work(key)

    def refer(self, number: int, name: str, code: str, self_referral: bool) -> str:
        """A referral from the employment services, or the client's own contact, received as the web form would."""
        key = f"DEMO-{number:03d}"
        first, last = name.split(" ", 1)
        client = {"clientName": name, "personalId": code, "language": "sv" if number % 7 == 0 else "fi",
                  "phone": f"+358 50 000 {number:04d}", "email": f"{first.lower()}.{last.lower()}@example.invalid",
                  "referralReason": "Pitkä työttömyys ja terveysongelmat", "referralConsent": True,
                  "urgency": "normal", "referrer": "Työllisyyspalvelut"}
        with self.engine.db.transaction() as session:  # the identity code goes to the client record, not the case
            variables = receive_referral(session, self.services.keys, client, self.services.clock())
        if not self_referral:
            case_id = self.engine.correlate("referral", business_key=key, variables=variables)[0]
            self.work(key)
        else:
            case_id = self.engine.start(KEY, business_key=key, actor="demo", variables=variables)
        return case_id

    def drive(self, case_id: str, key: str, step: str, manager: str | None, number: int) -> None:
        if self_referred(number, step):
            if step == "referral":  # the self-referred client's identity is not yet checked
                return
            self.task(case_id, "identify_self_referred", {"identityVerified": True}, actor="koordinaattori.anna")
        if step in ("referral", "duplicate"):
            return
        if step == "mapping-escalated":
            self.fire(case_id, "mapping_overdue")
        if step in ("mapping", "mapping-escalated"):
            return
        mapping = {"basic-services": LIGHT, "own-worker": OWN_WORKER}.get(step, BROAD)
        if step == "team-review":
            mapping = {**BROAD, "physicalRating": 1, "psychologicalRating": 1, "socialRating": 1}
        self.task(case_id, "needs_mapping", mapping, actor="koordinaattori.anna")
        if step == "decision":
            return
        if step in ("basic-services", "own-worker"):
            destination = "typ" if step == "basic-services" else "own_worker"
            self.task(case_id, "confirm_decision", {"basicServicesDestination": destination},
                      actor="koordinaattori.anna")
            return
        if step == "team-review":
            self.task(case_id, "confirm_decision", {"decision": "team_review", "overrideReason": "Tilanne epäselvä"},
                      actor="koordinaattori.anna")
            return
        assert manager is not None
        if manager.startswith("sosiaalityo"):  # the Turku table never names a social worker: the team agrees one
            self.task(case_id, "confirm_decision", {"decision": "team_review",
                                                    "overrideReason": "Sosiaalihuollon asiakas"},
                      actor="koordinaattori.anna")
            self.task(case_id, "work_ability_team_review", {"decision": "social_worker", "caseManager": manager},
                      actor="koordinaattori.anna")
        else:
            self.task(case_id, "confirm_decision", {"decision": "coordinator", "caseManager": manager},
                      actor="koordinaattori.anna")
        if step == "plan":
            return
        self.consent(case_id, *(("employment",) if step == "no-consent" else ("employment", "health")))
        self.task(case_id, "make_plan", self.plan(manager), actor=manager)
        if step in ("services", "no-consent"):
            return
        self.answer_all(case_id, key)
        if step in ("change-requested", "change-handover"):
            self.engine.correlate("caseManagerChange", business_key=key, variables={
                "changeRequestedBy": "esihenkilo.maria"})
            if step == "change-handover":
                self.task(case_id, "name_new_case_manager", {"newCaseManager": "tiimi.terttu",
                                                             "changeReason": "workload"}, actor="esihenkilo.maria")
                self.task(case_id, "confirm_handover_old", {"handoverNotesOld": "Asiakas tavattu yhdessä"},
                          actor=manager)
            return
        if step == "follow-up":
            return
        self.fire(case_id, "follow_up_due")
        if step == "follow-up-review":
            return
        if step == "revised-plan":
            self.task(case_id, "follow_up_review", {"followUpDecision": "revise_plan", "goalProgress": "ongoing"},
                      actor=manager)
            return
        self.task(case_id, "follow_up_review", {"followUpDecision": "close", "goalProgress": "reached"},
                  actor=manager)
        if step == "handover":
            return
        self.task(case_id, "handover_plan", {
            "closureReason": "employment" if number % 2 else "vocational_rehabilitation",
            "nextResponsible": "Työllisyyspalvelut, Kuvitteellinen Virkailija",
            "nextResponsibleContact": "029 000 0000", "continuationPlan": "Työkokeilu jatkuu"}, actor=manager)
        if step == "handover-meeting":
            return
        self.task(case_id, "handover_meeting", {
            "meetingDate": self.services.clock().date().isoformat(), "meetingHeld": True,
            "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut."}, actor=manager)


def self_referred(number: int, step: str) -> bool:
    """Every fifth client contacted the service themselves, and so did the one still waiting at identification."""
    return number % 5 == 0 or step == "referral"


def load_demo(engine: Any, services: Services) -> list[str]:
    """Seed staff and partners, start one case per demo client and drive it to its step; returns the case ids."""
    demo = Demo(engine, services)
    demo.seed()
    ids: list[str] = []
    codes: dict[str, str] = {}
    for number, (name, step, manager) in enumerate(DEMO, start=1):
        code = codes.get(name) or fictitious_code(date(1970, 1, 1) + timedelta(days=397 * number), 900 + number)
        if step == "duplicate":  # the client of an open case is referred again: routed to that case
            name, code = next((n, c) for n, c in codes.items() if n != name)
        codes.setdefault(name, code)
        case_id = demo.refer(number, name, code, self_referred(number, step))
        ids.append(case_id)
        demo.drive(case_id, f"DEMO-{number:03d}", step, manager, number)
    return ids
