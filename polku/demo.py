"""Demo data for the embedded default: staff, network partners and fictitious clients at every step.

Every case is driven as people would drive it (referral messages, tasks, partner answers, timers) and
its jobs run through Polku's own handlers, so the casework records (clients, case manager history,
plans, consents, disclosures, letters, mail in the outbox) are exactly what the process produces.
Names are clearly fictitious (a real-looking Finnish surname with an obviously made-up first name) and
identity codes come from the 900-999 series no real person has.

The staff form one team (`demo-tiimi`) that answers for the candidate groups of bpmn/; each has a title
and a unit, and the case managers include a work ability coordinator, an employment services official
and a social worker. A partner account speaks for the health station (`staff_user.partner_id`): it sees the
health checks referred there with the client's consent, and not the one whose client withdrew it. Demo staff
sign in with one password (`demo_password`): POLKU_DEMO_PASSWORD, or one generated into var/demo_password.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from casework.client_case import ClientCase
from casework.consent import record_consent, revoke_consent, valid_consent
from casework.identity_code import fictitious_code
from casework.network import PartnerKind, add_partner
from casework.plan import ItemKind, PlanItem, PlanVersion
from casework.referral import receive_referral
from casework.teams import add_member, add_team
from casework.users import MIN_PASSWORD_LENGTH, Role, Unit, add_user
from polku.private_files import private_dir
from workers.builtins import load
from workers.runner import run_until_idle
from workers.services import Services

KEY = "work_ability_support"
STAFF = [  # (user id, name, roles, phone, title, unit)
    ("koordinaattori.anna", "Anna Kuvitelma", [Role.COORDINATOR], "040 000 1001", "työkykykoordinaattori",
     Unit.WORK_ABILITY_SERVICES),
    ("koordinaattori.ville", "Ville Keksitty", [Role.COORDINATOR], "040 000 1002", "työkykykoordinaattori",
     Unit.WORK_ABILITY_SERVICES),
    ("sosiaalityo.pekka", "Pekka Esimerkki", [Role.CASE_MANAGER], "040 000 1003", "sosiaalityöntekijä",
     Unit.SOCIAL_WORK),
    ("tyollisyys.eeva", "Eeva Mallikas", [Role.CASE_MANAGER], "040 000 1006", "työllisyysasiantuntija",
     Unit.EMPLOYMENT_SERVICES),
    ("esihenkilo.maria", "Maria Malli", [Role.TEAM_LEAD, Role.MANAGER], "040 000 1004", "palveluesihenkilö",
     Unit.WORK_ABILITY_SERVICES),
    ("tiimi.terttu", "Terttu Testi", [Role.COORDINATOR], "040 000 1005", "psykiatrinen sairaanhoitaja",
     Unit.MENTAL_HEALTH_SUBSTANCE_ABUSE),
]
TEAM = ("demo-tiimi", "Työkykytiimi (kuvitteellinen kunta)", "Esimerkkilä")
# A network partner's account: the health station's nurse answers the referrals addressed to it.
PARTNER_ACCOUNT = ("kumppani.terveysasema", "Hilkka Hoitaja", "terveydenhoitaja", "Terveysasema Esimerkkilä")
PARTNER_OF_ACCOUNT = "health"  # the network partner (label in PARTNERS) the partner account answers for
DEMO_USERS = [row[0] for row in STAFF] + [PARTNER_ACCOUNT[0]]
PASSWORD_VARIABLE = "POLKU_DEMO_PASSWORD"
PASSWORD_FILE = "demo_password"
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
    # referred to the health station, then the client withdrew that consent: the partner may no longer open it
    ("Keksitty Laitinen", "consent-revoked", "sosiaalityo.pekka"),
    ("Testi Kettunen", "changed", "koordinaattori.ville"),  # the employment services official took over
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
        "divisionOfLabour": "Asiakasvastaava koordinoi; työllisyyspalvelut vastaa työkokeilusta",
        "followUpInterval": "P3M"}

# A follow-up review re-rates the four dimensions and asks whether the client knows their case manager;
# the closure rates them once more and asks for the client's feedback.
REVIEW = {"physicalRating": 2, "psychologicalRating": 2, "socialRating": 1, "cognitiveRating": 1,
          "clientKnowsCaseManager": "yes", "dimensionChanges": "Mieliala kohentunut"}
CLOSURE_RATINGS = {"physicalRating": 1, "psychologicalRating": 1, "socialRating": 0, "cognitiveRating": 0}


class Demo:
    """Drives demo cases through the deployed process with the real handlers."""

    def __init__(self, engine: Any, services: Services) -> None:
        self.engine = engine
        self.services = services
        self.registry = load()
        self.partners: dict[str, int] = {}

    def seed(self, password: str | None = None) -> None:
        """The team, its staff, a partner's account and the network partners the demo cases refer to."""
        now = self.services.clock()
        with self.engine.db.transaction() as session:
            team_id, team_name, municipality = TEAM
            add_team(session, team_id, team_name, now, municipality=municipality)
            for user_id, name, roles, phone, title, staff_unit in STAFF:
                user = add_user(session, user_id, name, roles, now, email=f"{user_id}@example.invalid", phone=phone)
                user.title, user.unit = title, staff_unit
                if password is not None:
                    user.set_password(password)
                add_member(session, team_id, user_id)
            partner_id, partner_name, partner_title, organisation = PARTNER_ACCOUNT
            partner = add_user(session, partner_id, partner_name, [Role.PARTNER], now,
                               email=f"{partner_id}@example.invalid")
            partner.title, partner.unit, partner.organisation = partner_title, Unit.HEALTH_STATION, organisation
            if password is not None:
                partner.set_password(password)
            for label, organisation, kind, unit in PARTNERS:
                self.partners[label] = add_partner(session, organisation, kind, unit=unit,
                                                   email=f"{label}@example.invalid").id
            partner.partner_id = self.partners[PARTNER_OF_ACCOUNT]  # the account sees this partner's referrals

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

    def revoke(self, case_id: str, label: str) -> None:
        """The client withdraws their consent to the partner (after the referral went out)."""
        with self.engine.db.transaction() as session:
            client_id = session.get(ClientCase, case_id).client_id
            consent = valid_consent(session, client_id, self.partners[label], self.services.clock())
            assert consent is not None
            revoke_consent(session, consent.id, self.services.clock(), by="sosiaalityo.pekka")

    def plan(self, manager: str) -> dict[str, Any]:
        due = (self.services.clock() + timedelta(days=30)).date().isoformat()
        return {**PLAN, "nextMeeting": due, "clientAgreed": True,
                "intermediateGoals": [{"goal": "Terveystarkastus tehty", "targetDate": due},
                                      {"goal": "Kuntouttava työtoiminta aloitettu", "targetDate": due}],
                "clientTasks": [{"task": "Kykyviisari-itsearvio ennen seuraavaa tapaamista", "due": due}],
                "services": [
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
                  "phone": f"+358 50 000 {number:04d}",
                  # every fifth client has no email: their letters wait in the print queue (/letters)
                  "email": None if number % 5 == 0 else f"{first.lower()}.{last.lower()}@example.invalid",
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
        if step == "consent-revoked":
            self.revoke(case_id, PARTNER_OF_ACCOUNT)
        if step in ("services", "no-consent", "consent-revoked"):
            return
        self.answer_all(case_id, key)
        if step == "changed":  # a better fit: the team lead hands the case to the employment services official
            self.engine.correlate("caseManagerChange", business_key=key, variables={
                "changeRequestedBy": "esihenkilo.maria"})
            self.task(case_id, "name_new_case_manager", {"newCaseManager": "tyollisyys.eeva",
                                                         "changeReason": "better_fit"}, actor="esihenkilo.maria")
            self.task(case_id, "confirm_handover_old", {"handoverNotesOld": "Työkokeilu työllisyyspalveluissa",
                                                        "jointMeetingDate": self.services.clock().date().isoformat()},
                      actor=manager)
            self.task(case_id, "confirm_handover_new", {"handoverConfirmed": True}, actor="tyollisyys.eeva")
            return
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
            self.task(case_id, "follow_up_review", {**REVIEW, "followUpDecision": "revise_plan",
                                                    "goalProgress": "ongoing"}, actor=manager)
            return
        self.task(case_id, "follow_up_review", {**REVIEW, "followUpDecision": "close", "goalProgress": "reached",
                                                "physicalRating": 1, "psychologicalRating": 1}, actor=manager)
        if step == "handover":
            return
        self.task(case_id, "handover_plan", {
            "closureReason": "employment" if number % 2 else "vocational_rehabilitation",
            "nextResponsible": "Työllisyyspalvelut, Kuvitteellinen Virkailija",
            "nextResponsibleContact": "029 000 0000", "continuationPlan": "Työkokeilu jatkuu", **CLOSURE_RATINGS,
            **({"feedbackResponse": "answered", "feedbackKnewWhomToContact": 5, "feedbackGotServices": 4,
                "feedbackWasHeard": 4, "feedbackComments": "Tiesin koko ajan, keneen ottaa yhteyttä."}
               if number % 2 else {"feedbackResponse": "declined"})}, actor=manager)
        if step == "handover-meeting":
            return
        self.task(case_id, "handover_meeting", {
            "meetingDate": self.services.clock().date().isoformat(), "meetingHeld": True,
            "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut."}, actor=manager)


def self_referred(number: int, step: str) -> bool:
    """Every fifth client contacted the service themselves, and so did the one still waiting at identification."""
    return number % 5 == 0 or step == "referral"


def load_demo(engine: Any, services: Services, password: str | None = None) -> list[str]:
    """Seed the team, staff and partners, start one case per demo client and drive it to its step; returns the
    case ids. With a `password` every demo account can sign in with it; without, none can."""
    demo = Demo(engine, services)
    demo.seed(password)
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


@dataclass(frozen=True)
class DemoPassword:
    """The demo staff's password and where it came from (the environment, or a file under var/)."""

    password: str
    file: Path | None  # None: from POLKU_DEMO_PASSWORD
    created: bool  # generated just now: shown once


def demo_password(var_dir: Path, env: dict[str, str] | None = None) -> DemoPassword:
    """POLKU_DEMO_PASSWORD, else the one in var/demo_password, generated (owner-only file) when missing."""
    env = dict(os.environ if env is None else env)
    given = env.get(PASSWORD_VARIABLE, "")
    if given:
        if len(given) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"{PASSWORD_VARIABLE} needs at least {MIN_PASSWORD_LENGTH} characters")
        return DemoPassword(given, None, False)
    path = var_dir / PASSWORD_FILE
    private_dir(var_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = path.read_text().strip()
        if not kept:
            raise RuntimeError(f"{path} is empty; delete it or set {PASSWORD_VARIABLE}") from None
        return DemoPassword(kept, path, False)
    password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return DemoPassword(password, path, True)


def sign_in_note(password: DemoPassword) -> str:
    """What `polku serve` prints about the demo accounts: the password only the once it was generated."""
    users = ", ".join(DEMO_USERS)
    if password.file is None:
        return f"Demo staff sign in with the password in {PASSWORD_VARIABLE}: {users}"
    if password.created:
        return (f"Demo staff sign in with the password {password.password} (kept in {password.file}, shown only "
                f"now): {users}")
    return f"Demo staff sign in with the password kept in {password.file}: {users}"
