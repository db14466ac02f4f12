"""Demo cases for the embedded default: fictitious clients spread over the process's steps."""

from __future__ import annotations

from typing import Any

from engine.jobs import TopicRequest

# Clearly fictitious names (no real people), with the step each case is driven to.
DEMO = [
    ("Testi Aaltonen", "mapping"), ("Malli Virtanen", "mapping"), ("Esimerkki Korhonen", "plan"),
    ("Demo Nieminen", "plan"), ("Kuvitteellinen Mäkinen", "follow-up"), ("Harjoitus Laine", "follow-up"),
    ("Koe Heikkinen", "basic-services"), ("Keksitty Järvinen", "follow-up"),
]
KEY = "work_ability_support"


def _complete_first(engine: Any, case_id: str, data: dict[str, Any]) -> None:
    engine.complete_task(engine.open_tasks(case_id)[0].id, data, actor="demo")


def _finish_jobs(engine: Any) -> None:
    for job in engine.fetch_and_lock("demo", [TopicRequest("client-letter")], max_jobs=100):
        engine.complete_job(job.id, "demo", {"letterSent": True})


def load_demo(engine: Any) -> list[str]:
    """Start one case per demo client and drive it to its step; returns the case ids."""
    ids = []
    for number, (name, step) in enumerate(DEMO, start=1):
        case_id = engine.start(KEY, business_key=f"DEMO-{number:03d}", variables={"clientName": name}, actor="demo")
        ids.append(case_id)
        if step == "mapping":
            continue
        heavy = step != "basic-services"
        _complete_first(engine, case_id, {"physical": 2 if heavy else 0, "psychological": 2 if heavy else 0,
                                          "social": 1, "cognitive": 0, "pathClear": not heavy})
        if step in ("follow-up",):
            _complete_first(engine, case_id, {"mainGoal": "Työkokeilu ja kuntoutus"})
    _finish_jobs(engine)
    return ids
