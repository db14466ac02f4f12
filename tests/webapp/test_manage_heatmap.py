"""The heatmap of where cases wait (`/manage/heatmap`): the figures and colour levels of each step of one
process version for a known set of waiting cases, the version and process choices, the text table beside the
diagram, the API twin and its OpenAPI description, and 403 for a coordinator. Aggregates only: no access log."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.access_log import AccessLogEntry
from casework.identity_code import IdentityCodeKeys
from casework.step_summary import refresh_summary
from engine.runtime import Engine
from tests.casework.test_stalls import CASES, T0, deploy, start
from tests.conftest import TestClock
from tests.webapp.manage_support import ACCOUNTS, add_teams, client_of, get_json, register_manage
from tests.webapp.support import app_client, basic
from webapp.manage.heatmap import AGE, WAITING, Band, bands, level

DAY = 86400
SUPPORT_STEPS = {"review", "notify", "reminder_due", "client_replied"}


@pytest.fixture
def keys() -> IdentityCodeKeys:
    return IdentityCodeKeys(secrets.token_urlsafe(32))


@pytest.fixture
def app(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> Flask:
    """Four cases (TKT-0..3: north, north, south, south), each waiting at five steps since days 0, 1, 3, 7;
    now is day 10 (tests/casework/test_stalls.py)."""
    import webapp.manage  # noqa: F401  # its API blueprint must exist before create_app exempts it from CSRF

    first = app_client(engine, accounts=ACCOUNTS, IDENTITY_CODE_KEYS=keys)
    with engine.db.transaction() as s:
        add_teams(s, clock)
    deploy(engine)
    cases = [start(engine, clock, keys, n, days, due, team) for n, (days, due, team) in enumerate(CASES)]
    clock.now = T0 + timedelta(days=10)
    first.application.config["TEST_CASES"] = cases
    register_manage(first.application)
    return first.application






def by_element(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["elementId"]: s for s in data["steps"]}


def test_the_level_is_a_quarter_of_the_largest_value_and_the_legend_says_which() -> None:
    assert [level(v, 8) for v in (1, 2, 3, 4, 5, 6, 7, 8)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert level(0, 0) == 1  # cases wait, but only since now: still coloured
    assert [b.text for b in bands(8, WAITING)] == ["1–2", "3–4", "5–6", "7–8"]
    assert bands(2, WAITING) == [Band(2, 1, 1, "1"), Band(4, 2, 2, "2")]  # levels no whole number falls in are left out
    assert [(b.low, b.high) for b in bands(4 * DAY, AGE)] == [(0, DAY), (DAY + 1, 2 * DAY), (2 * DAY + 1, 3 * DAY),
                                                              (3 * DAY + 1, 4 * DAY)]
    assert all(level(v, 8) == b.level for b in bands(8, WAITING) for v in range(b.low, b.high + 1))


def test_the_data_has_the_diagram_and_each_waiting_steps_figures(app: Flask, engine: Engine) -> None:
    client = client_of(app, "johtaja")
    data = get_json(client, "/manage/heatmap.json?team=all&process=support")
    assert data["process"] == {"key": "support", "name": "support", "version": 1, "versions": [1]}
    assert [p["key"] for p in data["processes"]] == ["coordination", "support"]
    assert '<bpmn:process id="support"' in data["xml"] and 'id="review"' in data["xml"]
    steps = by_element(data)
    # the called process's step is on its own diagram; a boundary timer or event subprocess start is no step
    assert set(steps) == SUPPORT_STEPS
    # waiting since days 0, 1, 3, 7, now day 10: ages 10, 9, 7, 3 days
    review = steps["review"]
    assert {k: review[k] for k in ("kind", "waiting", "cases", "ageP50Seconds", "ageP90Seconds", "ageMaxSeconds",
                                   "overdue")} == {"kind": "task", "waiting": 4, "cases": 4, "ageP50Seconds": 8 * DAY,
                                                   "ageP90Seconds": round(9.7 * DAY), "ageMaxSeconds": 10 * DAY,
                                                   "overdue": 2}
    assert review["name"] == "Review" and review["text"] == {"waiting": "4", "age": "9 d 16 h"}
    assert review["listUrl"] == "/manage/steps/support/review?team=all&version=support:1"
    assert [steps[e]["kind"] for e in ("notify", "reminder_due", "client_replied")] == ["job", "timer", "message"]
    assert all(s["level"] == {"waiting": 4, "age": 4} for s in steps.values())
    assert [b["text"] for b in data["scale"]["waiting"]] == ["1", "2", "3", "4"]

    # two cases move on from the review: fewer wait there, a lower level
    cases = app.config["TEST_CASES"]
    for case_id in cases[2:]:
        [task] = [t for t in engine.open_tasks(case_id) if t.element_id == "review"]
        engine.complete_task(task.id)
    refresh_summary(engine)  # the figures are the scheduler's summary (the first request computed it)
    steps = by_element(get_json(client, "/manage/heatmap.json?team=all&process=support&measure=age"))
    assert (steps["review"]["waiting"], steps["review"]["ageP90Seconds"]) == (2, round(9.9 * DAY))
    assert steps["review"]["level"] == {"waiting": 2, "age": 4}
    assert steps["notify"]["level"] == {"waiting": 4, "age": 4}

    coordination = get_json(client, "/manage/heatmap.json?team=all&process=coordination")
    assert coordination["process"]["key"] == "coordination" and '<bpmn:process id="coordination"' in coordination["xml"]
    assert {s["elementId"]: s["waiting"] for s in coordination["steps"]} == {"arrange": 4}


def test_a_team_lead_sees_their_teams_and_the_page_has_the_figures_as_a_table(app: Flask, engine: Engine) -> None:
    client = client_of(app, "maria")
    steps = by_element(get_json(client, "/manage/heatmap.json?process=support"))
    assert {e: s["waiting"] for e, s in steps.items()} == dict.fromkeys(SUPPORT_STEPS, 2)  # north: TKT-0, TKT-1
    assert steps["review"]["ageP90Seconds"] == round(9.9 * DAY)
    page = client.get("/manage/heatmap?process=support").get_data(as_text=True)
    assert 'id="heatmap-viewer"' in page and 'data-heatmap-url="/manage/heatmap.json?team=mine&amp;' in page
    table = page[page.index('id="heatmap-steps"'):]
    review = table[table.index('data-element="review"'):]
    assert 'href="/manage/steps/support/review?team=mine&amp;version=support:1">Review</a>' in review[:400]
    assert ">2<" in review[:900] and "9 d 21 h" in review[:900]
    assert "TKT-" not in page and "Testi Asiakas" not in page  # aggregates only
    assert 'src="/static/manage-heatmap.js"' in page
    with engine.db.read() as s:  # no case data shown: no access log
        assert s.scalar(select(func.count()).select_from(AccessLogEntry)
                        .where(AccessLogEntry.user_id == "maria")) == 0
    # the step's list opens with the same filters
    listed = client.get("/manage/steps/support/review?team=mine&version=support:1").get_data(as_text=True)
    assert "2 cases waiting now" in listed


def test_the_newest_version_is_the_default_and_older_ones_selectable(app: Flask, engine: Engine, clock: TestClock,
                                                                     keys: IdentityCodeKeys) -> None:
    deploy(engine, " (v2)")
    start(engine, clock, keys, 4, 10, None, "north")
    client = client_of(app, "johtaja")
    newest = get_json(client, "/manage/heatmap.json?team=all")
    assert [p["key"] for p in newest["processes"]] == ["coordination", "support"]
    newest = get_json(client, "/manage/heatmap.json?team=all&process=support")
    assert newest["process"]["version"] == 2 and newest["process"]["versions"] == [2, 1]
    assert by_element(newest)["review"]["waiting"] == 1 and by_element(newest)["review"]["name"] == "Review (v2)"
    older = get_json(client, "/manage/heatmap.json?team=all&process=support&version=support:1")
    assert older["process"]["version"] == 1 and by_element(older)["review"]["waiting"] == 4
    assert by_element(older)["review"]["listUrl"].endswith("version=support:1")
    # a version filter names the process; another process's version means that process's newest
    assert get_json(client, "/manage/heatmap.json?team=all&version=support:1")["process"]["key"] == "support"
    other = get_json(client, "/manage/heatmap.json?team=all&process=coordination&version=support:1")
    assert (other["process"]["key"], other["process"]["version"]) == ("coordination", 2)
    page = client.get("/manage/heatmap?team=all&process=support&version=support:1").get_data(as_text=True)
    assert '<option value="support:1" selected>' in page and "version 2 (newest)" in page


def test_a_coordinator_gets_403(app: Flask) -> None:
    client = client_of(app, "anna")
    for path in ("/manage/heatmap", "/manage/heatmap.json"):
        assert client.get(path).status_code == 403, path
    answer = client.get("/api/manage/heatmap")
    assert answer.status_code == 403 and answer.get_json()["type"] == "AuthorizationException"
    assert app.test_client().get("/manage/heatmap").status_code == 302  # not signed in: to the sign-in page


def test_the_api_twin_is_described_in_openapi(app: Flask) -> None:
    client = app.test_client()
    data = client.get("/api/manage/heatmap?team=all&process=support", headers=basic("johtaja")).get_json()
    assert set(by_element(data)) == SUPPORT_STEPS and data["xml"]
    assert client.get("/api/manage/heatmap").status_code == 401
    doc = client.get("/api/openapi.json").get_json()
    operation = doc["paths"]["/api/manage/heatmap"]["get"]
    assert {"team", "municipality", "process", "version", "measure"} <= {p["name"] for p in operation["parameters"]}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"xml", "steps", "scale", "process"} <= set(schema["properties"])
    assert "listUrl" in schema["properties"]["steps"]["items"]["properties"]


def test_the_partial_includes_the_heatmap_in_another_management_page(app: Flask) -> None:
    from flask import render_template_string

    @app.route("/test-heatmap-partial")
    def partial() -> str:  # what manage/index.html gets with the one line the report asks for
        return render_template_string('{% with heatmap_table=False %}{% include "manage/_heatmap.html" %}'
                                      '{% endwith %}')

    page = client_of(app, "maria").get("/test-heatmap-partial?version=support:1").get_data(as_text=True)
    assert 'id="heatmap-viewer"' in page and 'data-heatmap-url="/manage/heatmap.json?team=mine&amp;' in page
    assert "version=support:1" in page and 'id="heatmap-open"' in page and 'id="heatmap-steps"' not in page
    assert client_of(app, "anna").get("/test-heatmap-partial").get_data(as_text=True).strip() == ""
