"""The case's diagram data (`/cases/<key>/diagram.json`, `/api/cases/<key>/diagram`) and its text on the case page.

A real case driven through bpmn/ with the real handlers to a known wait: the plan made, both planned services
referred, so the case's own process waits at the follow-up timer while it coordinates the services, and each
service coordination instance it called waits for the partner's answer with a reminder timer.
"""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from engine.models import Case
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.scenarios.conftest import make_world
from tests.scenarios.test_service_coordination import planned
from tests.webapp.support import basic
from tests.webapp.test_task_page import OUTSIDER, Site

MANAGER = "koordinaattori.anna"
DIAGRAM = "case diagram"


def business_key(site: Site, case_id: str) -> str:
    with site.engine.db.read() as session:
        key = session.scalar(select(Case.business_key).where(Case.id == case_id))
    assert key
    return key


def log(site: Site, case_id: str) -> list[tuple[str, AccessAction, str]]:
    with site.engine.db.read() as session:
        return [(r.user_id, r.action, r.what) for r in session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.case_id == case_id).order_by(AccessLogEntry.id))]


@pytest.fixture
def site(engine: Engine, clock: TestClock) -> Site:
    return Site(make_world(engine, clock))


@pytest.fixture
def coordinating(site: Site) -> tuple[str, str]:
    case_id = planned(site.world, "Kuvitteellinen Kaavio", "employment", "health")
    return case_id, business_key(site, case_id)


def get_json(site: Site, user: str, url: str) -> tuple[int, dict[str, Any]]:
    response = site.browser(user).get(url)
    return response.status_code, response.get_json(silent=True) or {}


def test_the_case_manager_sees_where_the_case_is(site: Site, coordinating: tuple[str, str]) -> None:
    case_id, key = coordinating
    before = len(log(site, case_id))
    status, data = get_json(site, MANAGER, f"/cases/{key}/diagram.json")
    assert status == 200, data
    assert data["case"] == key and data["instance"]["process"] == "work_ability_support"
    assert 'id="work_ability_support"' in data["xml"] and "bpmndi:BPMNDiagram" in data["xml"]
    assert sorted(s["id"] for s in data["active"]) == ["coordinate_services", "review_wait"]
    assert {"referral_received", "needs_mapping", "confirm_decision", "make_plan", "record_plan",
            "plan_split", "schedule_follow_up"} <= set(data["completed"])
    assert "guided_to_basic_services" not in data["completed"]
    assert {"flow_to_coordination", "flow_to_follow_up_loop", "case_manager_needed"} <= set(data["flows"])
    [(timer_id, due)] = site.engine.waiting_timers(case_id, "follow_up_due")
    assert [(t["id"], t["due"]) for t in data["timers"]] == [("follow_up_due", due.isoformat())]
    called = data["called"]
    assert len(called) == 2 and {c["element"] for c in called} == {"coordinate_services"}
    assert {c["process"] for c in called} == {"service_coordination"}
    labels = sorted(c["label"] for c in called)  # the planned service each coordinates: its provider
    assert "Terveysasema" in labels[0] and "Työllisyyspalvelut" in labels[1]
    assert all(c["active"] == ["wait_answer"] and not c["ended"] for c in called)
    assert log(site, case_id)[before:] == [(MANAGER, AccessAction.VIEW, DIAGRAM)]  # one row for the request

    status, sub = get_json(site, MANAGER, called[0]["dataUrl"])
    assert status == 200, sub
    assert sub["instance"]["process"] == "service_coordination" and 'id="service_coordination"' in sub["xml"]
    assert [s["id"] for s in sub["active"]] == ["wait_answer"]
    assert {"service_requested", "send_partner_referral", "status_router"} <= set(sub["completed"])
    assert "flow_wait_answer" in sub["flows"]
    reminders = [d.isoformat() for _, d in site.engine.waiting_timers(case_id, "reminder_due")]
    assert [t["id"] for t in sub["timers"]] == ["reminder_due"] and sub["timers"][0]["due"] in reminders
    assert sub["parent"]["element"] == "coordinate_services"
    assert sub["parent"]["dataUrl"] == f"/cases/{key}/diagram.json"
    assert len(log(site, case_id)) == before + 2

    status, missing = get_json(site, MANAGER, f"/cases/{key}/diagram/not-an-instance.json")
    assert status == 404 and missing["type"] == "NotFoundException"
    assert get_json(site, MANAGER, "/cases/NO-SUCH-CASE/diagram.json")[0] == 404


def test_the_json_twin_under_api(site: Site, coordinating: tuple[str, str]) -> None:
    case_id, key = coordinating
    client = site.app.test_client()
    response = client.get(f"/api/cases/{key}/diagram", headers=basic(MANAGER))
    assert response.status_code == 200
    data = response.get_json()
    assert sorted(s["id"] for s in data["active"]) == ["coordinate_services", "review_wait"]
    assert all(c["dataUrl"].startswith(f"/api/cases/{key}/diagram/") for c in data["called"])
    sub = client.get(data["called"][1]["dataUrl"], headers=basic(MANAGER)).get_json()
    assert [s["id"] for s in sub["active"]] == ["wait_answer"]
    assert client.get(f"/api/cases/{key}/diagram").status_code == 401  # no session, no credentials
    doc = client.get("/api/openapi.json", headers=basic(MANAGER)).get_json()
    operation = doc["paths"]["/api/cases/{key}/diagram"]["get"]
    assert "timers" in operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]


def test_someone_without_a_relationship_gets_403_and_the_attempt_is_logged(
        site: Site, coordinating: tuple[str, str]) -> None:
    case_id, key = coordinating
    status, data = get_json(site, OUTSIDER, f"/cases/{key}/diagram.json")
    assert status == 403 and "xml" not in data and data["type"] == "AuthorizationException"
    assert log(site, case_id)[-1] == (OUTSIDER, AccessAction.DENIED, DIAGRAM)
    response = site.app.test_client().get(f"/api/cases/{key}/diagram", headers=basic(OUTSIDER))
    assert response.status_code == 403 and "active" not in (response.get_json() or {})
    assert [row for row in log(site, case_id) if row[0] == OUTSIDER] == [(OUTSIDER, AccessAction.DENIED, DIAGRAM)] * 2


def test_the_case_page_says_the_same_in_text(site: Site, coordinating: tuple[str, str]) -> None:
    case_id, key = coordinating
    response = site.browser(MANAGER).get(f"/cases/{key}")
    assert response.status_code == 200
    page = unescape(response.get_data(as_text=True))
    section = page[page.index('<section id="diagram"'):]
    section = section[:section.index("</section>")]
    assert f'data-diagram-url="/cases/{key}/diagram.json"' in section
    assert "<script" not in section and "onclick" not in section
    assert "Service coordination" in section and "Waiting timers" in section  # English names (bpmn/i18n)
    [(_, due)] = site.engine.waiting_timers(case_id, "follow_up_due")
    assert due.strftime("%-m/%-d/%y") in section  # the follow-up timer's due date, in Helsinki time
    called = section[section.index("Called processes"):]
    links = [part.split('"')[0] for part in called.split('href="')[1:]]
    assert len(links) == 2 and all(link.startswith(f"/cases/{key}?diagram=") for link in links)

    sub = unescape(site.browser(MANAGER).get(links[0]).get_data(as_text=True))
    sub_section = sub[sub.index('<section id="diagram"'):]
    assert "Wait for the answer" in sub_section and "Back to the case" in sub_section
    assert f'data-diagram-url="/cases/{key}/diagram/' in sub_section
