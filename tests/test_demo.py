"""The embedded default's demo: 30+ fictitious cases over every step, with the casework records behind them."""

from __future__ import annotations

import secrets
from collections import Counter

from sqlalchemy import func, select

from casework.case_manager import Assignment, cases_without_case_manager
from casework.client import Client
from casework.client_case import CaseStatus, ClientCase
from casework.identity_code import IdentityCodeKeys
from casework.letter import Letter
from engine.models import Incident
from engine.runtime import Engine
from polku.demo import DEMO, load_demo
from polku.resources import collect_dir
from polku.settings import ROOT
from workers.services import Services


def test_demo_cases_cover_every_step_with_their_casework(engine: Engine, clock) -> None:
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    ids = load_demo(engine, Services(engine.db, clock, IdentityCodeKeys(secrets.token_urlsafe(32)), None, engine))
    assert len(ids) == len(DEMO) >= 30
    cases = [engine.case(i) for i in ids]
    statuses = Counter(c["status"] for c in cases)
    assert statuses["active"] >= 20 and statuses["completed"] >= 4
    waiting = {element for i in ids for element in (t.element_id for t in engine.open_tasks(i))}
    assert {"needs_mapping", "mapping_escalation", "confirm_decision", "work_ability_team_review", "make_plan",
            "follow_up_review", "handover_plan", "handover_meeting", "obtain_consent", "name_new_case_manager",
            "confirm_handover_new", "identify_self_referred"} <= waiting
    with engine.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
        names = list(session.scalars(select(Client.name)))
        assert len(names) >= 28 and all(n.split()[0] in {"Testi", "Malli", "Esimerkki", "Demo", "Kuvitteellinen",
                                                          "Harjoitus", "Koe", "Keksitty"} for n in names)
        assert session.scalar(select(func.count()).select_from(ClientCase)
                              .where(ClientCase.status == CaseStatus.CLOSED)) >= 4
        assert session.scalar(select(func.count()).select_from(Assignment)) >= 15
        assert session.scalar(select(func.count()).select_from(Letter)) >= 15
        missing = [(DEMO[ids.index(c)], [t.element_id for t in engine.open_tasks(c)])
                   for c in cases_without_case_manager(session)]
        assert missing == []
