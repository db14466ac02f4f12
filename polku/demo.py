"""Demo cases for the embedded default: fictitious clients spread over the process's steps.

Every case is driven with engine calls only (tasks, external-task jobs, messages, timers), so the
data is exactly what the deployed bpmn/ produces. Names are clearly fictitious: a real-looking
Finnish surname with an obviously made-up first name.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select

from engine.jobs import TopicRequest
from engine.models import Timer

KEY = "work_ability_support"
TOPICS = ("duplicate-check", "staff-notification", "client-letter", "record-destination", "record-assignment",
          "record-plan", "partner-referral", "record-service-outcome", "record-closure")

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
OWN_WORKER = {**LIGHT, "physicalRating": 2, "pathClear": False, "hasOwnWorker": True,
              "ownWorkerName": "Kuvitteellinen omatyöntekijä, aikuissosiaalityö"}
BROAD = {"physicalRating": 2, "psychologicalRating": 3, "socialRating": 2, "cognitiveRating": 1, "pathClear": False,
         "hasOwnWorker": False, "socialWelfareClient": False, "motivation": "some",
         "existingServices": "Työllisyyspalvelut; terveysasema", "clientView": "En tiedä, mistä saisin apua."}
PLAN = {"mainGoal": "Työkokeilu omalla alalla",
        "intermediateGoals": "Terveystarkastus 1 kk; kuntouttava työtoiminta 3 kk",
        "divisionOfLabour": "Asiakasvastaava koordinoi; työllisyyspalvelut vastaa työkokeilusta",
        "clientTasks": "Kykyviisari-itsearvio ennen seuraavaa tapaamista", "followUpInterval": "P3M"}


def _tasks(engine: Any, case_id: str, element: str) -> list[Any]:
    return [t for t in engine.open_tasks(case_id) if t.element_id == element]


def _task(engine: Any, case_id: str, element: str, data: dict[str, Any] | None = None, actor: str = "demo") -> None:
    task = _tasks(engine, case_id, element)[0]
    engine.complete_task(task.id, data or {}, actor=actor)


def _jobs(engine: Any, business_key: str, results: dict[str, dict[str, Any]] | None = None,
          errors: dict[str, str] | None = None) -> int:
    """Complete the case's open jobs the way the workers would; returns how many were done."""
    results, errors = results or {}, errors or {}
    done = 0
    while True:
        jobs = engine.fetch_and_lock("demo", [TopicRequest(t, business_key=business_key) for t in TOPICS], max_jobs=20)
        if not jobs:
            return done
        for job in jobs:
            if job.topic in errors:
                engine.bpmn_error(job.id, "demo", errors.pop(job.topic), "ei luovutuslupaa")
            else:
                engine.complete_job(job.id, "demo", results.get(job.topic, {}))
            done += 1


def _fire(engine: Any, case_id: str, element: str) -> None:
    with engine.db.transaction() as session:
        rows = list(session.execute(select(Timer.id, Timer.due_at).where(
            Timer.case_id == case_id, Timer.element_id == element)).all())
    for timer_id, due in rows:
        due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        engine.fire_timer(timer_id, at=due + timedelta(minutes=1))


def _drive(engine: Any, case_id: str, key: str, step: str, manager: str | None, number: int) -> None:
    plan_results = {"record-plan": {"planVersion": 1, "plannedServices": [f"{key}-S1", f"{key}-S2"]}}
    _task(engine, case_id, "identify_self_referred", {"identityVerified": True})
    if step == "referral":  # waits for the duplicate-check worker
        return
    if step == "duplicate":
        _jobs(engine, key, {"duplicate-check": {"openCaseId": "DEMO-015", "openCaseManager": "koordinaattori.anna"}})
        return
    _jobs(engine, key)
    if step == "mapping-escalated":
        _fire(engine, case_id, "mapping_overdue")
    if step in ("mapping", "mapping-escalated"):
        return
    mapping = {"basic-services": LIGHT, "own-worker": OWN_WORKER}.get(step, BROAD)
    if step == "team-review":
        mapping = {**BROAD, "physicalRating": 1, "psychologicalRating": 1, "socialRating": 1}
    _task(engine, case_id, "needs_mapping", mapping, actor="koordinaattori.anna")
    if step == "decision":
        return
    if step in ("basic-services", "own-worker"):
        destination = "typ" if step == "basic-services" else "own_worker"
        _task(engine, case_id, "confirm_decision", {"basicServicesDestination": destination})
        _jobs(engine, key)
        return
    if step == "team-review":
        _task(engine, case_id, "confirm_decision", {"decision": "team_review", "overrideReason": "Tilanne epäselvä"})
        return
    decision = "social_worker" if manager and manager.startswith("sosiaalityo") else "coordinator"
    _task(engine, case_id, "confirm_decision", {"decision": decision, "caseManager": manager})
    _jobs(engine, key)
    if step == "plan":
        return
    _task(engine, case_id, "make_plan", PLAN, actor=manager)
    _jobs(engine, key, plan_results, errors={"partner-referral": "NO_CONSENT"} if step == "no-consent" else None)
    if step in ("services", "no-consent"):
        return
    for service in ("S1", "S2"):
        engine.correlate("partnerAnswer", business_key=key,
                         variables={"answeredServiceId": f"{key}-{service}", "partnerDecision": "accepted"})
        _jobs(engine, key)
    # the engine's event subprocess does not see process variables: the message carries the current one
    change = {"changeRequestedBy": "esihenkilo.maria", "caseManager": manager}
    if step == "change-requested":
        engine.correlate("caseManagerChange", business_key=key, variables=change)
        return
    if step == "change-handover":
        engine.correlate("caseManagerChange", business_key=key, variables=change)
        _task(engine, case_id, "name_new_case_manager", {"newCaseManager": "koordinaattori.ville",
                                                         "changeReason": "workload"}, actor="esihenkilo.maria")
        _task(engine, case_id, "confirm_handover_old", {"handoverNotesOld": "Asiakas tavattu yhdessä"}, actor=manager)
        return
    if step == "follow-up":
        return
    _fire(engine, case_id, "follow_up_due")
    if step == "follow-up-review":
        return
    if step == "revised-plan":
        _task(engine, case_id, "follow_up_review", {"followUpDecision": "revise_plan"}, actor=manager)
        return
    _task(engine, case_id, "follow_up_review", {"followUpDecision": "close", "goalProgress": "reached"}, actor=manager)
    if step == "handover":
        return
    _task(engine, case_id, "handover_plan", {
        "closureReason": "employment" if number % 2 else "vocational_rehabilitation",
                                             "nextResponsible": "Työllisyyspalvelut, Kuvitteellinen Virkailija",
                                             "continuationPlan": "Työkokeilu jatkuu"}, actor=manager)
    if step == "handover-meeting":
        return
    summary = {"meetingHeld": True, "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut"}
    _task(engine, case_id, "handover_meeting", summary, actor=manager)
    _jobs(engine, key)


def load_demo(engine: Any) -> list[str]:
    """Start one case per demo client and drive it to its step; returns the case ids."""
    ids = []
    for number, (name, step, manager) in enumerate(DEMO, start=1):
        key = f"DEMO-{number:03d}"
        first, last = name.split(" ", 1)
        case_id = engine.start(KEY, business_key=key, actor="demo", variables={
            "clientName": name, "language": "sv" if number % 7 == 0 else "fi",
            "phone": f"+358 50 000 {number:04d}", "email": f"{first.lower()}.{last.lower()}@example.invalid",
            "referralReason": "Pitkä työttömyys ja terveysongelmat", "referralConsent": True})
        ids.append(case_id)
        _drive(engine, case_id, key, step, manager, number)
    return ids
