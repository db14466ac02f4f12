"""A process owner's dry run: deploy files into a throw-away database and drive a case.

Time is virtual: timers fire at once by moving the simulation clock to their due time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import select

from engine.camunda.parser.extensions import BPMN_NS
from engine.clock import aware, utcnow
from engine.db import Database
from engine.errors import Conflict, EngineError, FormError, NotFound, ProcessError
from engine.forms import Form, defaults
from engine.jobs import TopicRequest
from engine.models import HistoryEvent, Job, Timer
from engine.runtime import Engine


class VirtualClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, moment: datetime) -> None:
        moment = aware(moment)
        self.now = max(self.now, moment)


def main_process(resources: Mapping[str, bytes], parsed_ids: list[str]) -> str | None:
    """The executable process no other process of the files calls, when there is exactly one."""
    called: set[str] = set()
    for name, data in resources.items():
        if name.endswith(".bpmn") or name.endswith(".xml"):
            try:
                root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError:
                continue
            called.update(c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity"))
    roots = [pid for pid in parsed_ids if pid not in called]
    return roots[0] if len(roots) == 1 else None


def simulate(resources: Mapping[str, bytes], process: str | None = None, variables: Mapping[str, Any] | None = None,
             drive: bool = False, max_steps: int = 200) -> dict[str, Any]:
    """Run the process and report where it went. ValidationFailed propagates for invalid files."""
    variables = dict(variables or {})
    clock = VirtualClock()
    db = Database("sqlite://")
    db.create_all()
    engine = Engine(db, clock=clock)
    parsed = engine.definitions.validate(dict(resources))
    ids = sorted(parsed.processes)
    if not ids:
        raise NotFound("the files hold no executable process to start (decisions and forms alone cannot run)")
    key = process or (ids[0] if len(ids) == 1 else main_process(resources, ids))
    if key is None or key not in parsed.processes:
        raise NotFound(f"choose a process with --process: one of {', '.join(ids)}"
                       if key is None else f"process '{key}' is not in the files (have: {', '.join(ids)})")
    engine.deploy(dict(resources), name="simulation")
    result: dict[str, Any] = {"status": "waiting", "path": [], "waiting": [], "variables": {}, "error": None}
    case_id = None
    try:
        case_id = engine.start(key, variables.get("businessKey"), variables)
        steps = 0
        while drive:
            case = engine.case(case_id)
            if case["status"] != "active":
                break
            acted = _drive_once(engine, clock, case_id, variables)
            if not acted:
                break
            steps += acted
            if steps >= max_steps:
                result["status"] = "step-limit"
                break
    except (ProcessError, FormError, Conflict) as err:
        result["status"] = "error"
        result["error"] = {"element": getattr(err, "element_id", None), "message": str(err)}
    except EngineError as err:
        result["status"] = "error"
        result["error"] = {"element": None, "message": str(err)}
    if case_id is not None:
        case = engine.case(case_id)
        if result["status"] != "error" and case["status"] == "completed":
            result["status"] = "completed"
        result["waiting"] = case["waiting"] if case["status"] == "active" else []
        result["variables"] = case["variables"]
        result["path"] = _path(db, case_id)
    db.dispose()
    return result


def _drive_once(engine: Engine, clock: VirtualClock, case_id: str, variables: dict[str, Any]) -> int:
    """Complete every open user task and job once; if there were none, fire the timers. Returns actions."""
    acted = 0
    for task in engine.open_tasks(case_id):
        form = Form.from_json(task.form) if task.form else None
        data = {**(defaults(form) if form else {}), **variables}
        try:
            engine.complete_task(task.id, data, actor="simulation")
        except FormError as err:
            err.element_id = task.element_id  # type: ignore[attr-defined]
            raise
        acted += 1
    with engine.db.transaction() as session:
        topics = sorted(set(session.execute(select(Job.topic).where(Job.case_id == case_id)).scalars()))
    if topics:
        for job in engine.fetch_and_lock("simulation", [TopicRequest(t) for t in topics], max_jobs=100):
            engine.complete_job(job.id, "simulation", {})
            acted += 1
    if acted:
        return acted
    with engine.db.transaction() as session:
        timers = list(session.execute(select(Timer.id, Timer.due_at).where(Timer.case_id == case_id)
                                      .order_by(Timer.due_at)).all())
    for timer_id, due in timers:
        clock.advance_to(due)
        if engine.fire_timer(timer_id):
            acted += 1
    return acted


def _path(db: Database, case_id: str) -> list[str]:
    with db.transaction() as session:
        rows = session.execute(
            select(HistoryEvent.element_id).where(HistoryEvent.case_id == case_id, HistoryEvent.state == "completed")
            .order_by(HistoryEvent.ended_at, HistoryEvent.ended_seq, HistoryEvent.id)).scalars()
        return list(rows)
