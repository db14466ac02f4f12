"""The management view as team leads and managers use it: alarms, where cases wait, drill-down lists with the
access log, CSV exports, the JSON twins, and 403 for everyone else."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys
from casework.referral import ReferralSource
from casework.step_summary import BUCKET_ERROR, refresh_summary
from engine.models import Case, Deployment
from engine.runtime import Engine
from tests.casework.test_stalls import CASES, T0, deploy, start
from tests.conftest import TestClock
from tests.webapp.manage_support import ACCOUNTS, add_teams, client_of, register_manage, rows_of
from tests.webapp.support import app_client


@pytest.fixture
def app(engine: Engine, clock: TestClock) -> Flask:
    import webapp.manage  # noqa: F401  # its API blueprint must exist before create_app exempts it from CSRF

    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    first = app_client(engine, accounts=ACCOUNTS, IDENTITY_CODE_KEYS=keys, IDLE_CASE_DAYS=5)
    with engine.db.transaction() as s:
        add_teams(s, clock)
    deploy(engine)
    for n, (days, due, team) in enumerate(CASES):
        start(engine, clock, keys, n, days, due, team)
    clock.now = T0 + timedelta(days=10)
    return register_manage(first.application)






def access_rows(engine: Engine, user: str) -> list[tuple[str, str, AccessAction]]:
    with engine.db.read() as s:
        rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.user_id == user)
                         .order_by(AccessLogEntry.id)).all()
        keys = {c: k for c, k in s.execute(select(Case.id, Case.business_key)).all()}
        # one INSERT per page: its rows come in no particular order, so sort them within each request (action)
        out = [(keys[r.case_id], r.what, r.action) for r in rows if r.case_id]
        return sorted(out, key=lambda r: (list(AccessAction).index(r[2]), r[0]))


def test_a_coordinator_gets_403_everywhere(app: Flask) -> None:
    client = client_of(app, "anna")
    for path in ("/manage", "/manage/alarms.csv", "/manage/steps.csv", "/manage/alarms/idle",
                 "/manage/alarms/idle?format=csv", "/manage/steps/support/review",
                 "/manage/steps/support/review?format=csv"):
        assert client.get(path).status_code == 403, path
    for path in ("/api/manage/alarms", "/api/manage/steps"):
        answer = client.get(path)
        assert answer.status_code == 403 and answer.get_json()["type"] == "AuthorizationException"
    assert "/manage" not in client.get("/inbox").get_data(as_text=True)
    assert app.test_client().get("/manage").status_code == 302  # not signed in: to the sign-in page


def test_a_team_lead_sees_their_own_teams_figures(app: Flask) -> None:
    client = client_of(app, "maria")
    page = client.get("/manage").get_data(as_text=True)
    assert 'href="/manage"' in page and ">Management<" in page  # the navigation entry
    # alarms first, then the table; the idle alarm (5 days) counts TKT-0 and TKT-1 (north)
    assert page.index('id="manage-alarms"') < page.index('id="manage-steps"')
    assert 'id="alarm-idle"' in page
    idle = page[page.index('id="alarm-idle"'):]
    assert 'aria-label="2 cases">2<' in idle[:600] and "Warning" in idle[:600]
    assert "In order" in page  # a zero alarm says so in words
    # north: TKT-0 (10 days) and TKT-1 (9 days); TKT-0's review is overdue
    table = page[page.index('id="manage-steps"'):]
    review = table[table.index("/manage/steps/support/review"):]
    cells = review[:1500]
    assert ">2<" in cells and "9 d 12 h" in cells and "9 d 21 h" in cells and "10 d 0 h" in cells
    # a team not theirs falls back to their own teams
    other = client.get("/manage/steps.csv?team=south")
    assert [r[5] for r in rows_of(other)[1:]] == ["2"] * 5


def test_the_steps_csv_has_every_figure(app: Flask) -> None:
    client = client_of(app, "johtaja")
    rows = rows_of(client.get("/manage/steps.csv"))
    assert rows[0] == ["process", "version", "element_id", "step", "kind", "waiting", "cases", "age_p50_hours",
                       "age_p90_hours", "age_max_hours", "overdue", "period_from", "period_to", "period_completed",
                       "period_median_hours", "period_p90_hours"]
    by_element = {r[2]: r[:11] for r in rows[1:]}
    assert by_element["review"] == ["support", "1", "review", "Review", "task", "4", "4", "192", "232", "240", "2"]
    assert by_element["arrange"] == ["coordination", "1", "arrange", "Arrange the service", "task", "4", "4", "192",
                                     "232", "240", "0"]
    assert by_element["reminder_due"][4:] == ["timer", "4", "4", "192", "232", "240", "0"]
    # nothing completed yet: the period (the last 30 days to today, Helsinki) has no time spent
    assert {tuple(r[11:]) for r in rows[1:]} == {("2025-12-17", "2026-01-15", "0", "", "")}
    assert set(by_element) == {"review", "notify", "reminder_due", "client_replied", "arrange"}
    vantaa = rows_of(client.get("/manage/steps.csv?team=all&municipality=Vantaa"))
    assert {r[2]: r[5] for r in vantaa[1:]}["review"] == "2"
    alarms = rows_of(client.get("/manage/alarms.csv"))
    assert alarms == [["alarm", "severity", "count"], ["no_case_manager", "critical", "0"],
                      ["deactivated_case_manager", "critical", "0"], ["client_not_informed", "warning", "0"],
                      ["idle", "warning", "3"], ["follow_up_overdue", "high", "0"],
                      ["referral_unanswered", "high", "0"], ["incident", "high", "0"]]


def test_a_step_list_shows_case_numbers_and_logs_the_access_once(app: Flask, engine: Engine) -> None:
    client = client_of(app, "maria")
    page = client.get("/manage/steps/support/review").get_data(as_text=True)
    assert "2 cases waiting now" in page
    assert page.index('href="/cases/TKT-0"') < page.index('href="/cases/TKT-1"')
    assert "TKT-2" not in page and "Testi Asiakas" not in page  # another team's case; no client names
    assert "Overdue" in page
    what = "management step list: support/review"
    assert access_rows(engine, "maria") == [("TKT-0", what, AccessAction.VIEW), ("TKT-1", what, AccessAction.VIEW)]
    rows = rows_of(client.get("/manage/steps/support/review?format=csv"))
    assert rows == [["case_number", "kind", "since", "due", "overdue", "age_hours"],
                    ["TKT-0", "task", "2026-01-05T11:00:00+02:00", "2026-01-10T11:00:00+02:00", "1", "240"],
                    ["TKT-1", "task", "2026-01-06T11:00:00+02:00", "2026-01-25T11:00:00+02:00", "0", "216"]]
    assert access_rows(engine, "maria")[2:] == [("TKT-0", what, AccessAction.EXPORT),
                                                ("TKT-1", what, AccessAction.EXPORT)]


def test_an_alarm_list_and_its_csv(app: Flask, engine: Engine) -> None:
    client = client_of(app, "johtaja")
    page = client.get("/manage/alarms/idle").get_data(as_text=True)
    assert "3 cases" in page and "No step of the case has moved for 5 days." in page
    assert [k for k in ("TKT-0", "TKT-1", "TKT-2", "TKT-3") if f'href="/cases/{k}"' in page] == [
        "TKT-0", "TKT-1", "TKT-2"]
    rows = rows_of(client.get("/manage/alarms/idle?format=csv&team=south"))
    assert rows == [["case_number", "since", "detail"], ["TKT-2", "2026-01-08T11:00:00+02:00", ""]]
    logged = access_rows(engine, "johtaja")
    assert [(k, a) for k, _, a in logged] == [("TKT-0", AccessAction.VIEW), ("TKT-1", AccessAction.VIEW),
                                              ("TKT-2", AccessAction.VIEW), ("TKT-2", AccessAction.EXPORT)]
    assert {w for _, w, _ in logged} == {"management alarm list: idle"}
    empty = client.get("/manage/alarms/no_case_manager").get_data(as_text=True)
    assert "No cases. All in order." in empty
    assert client.get("/manage/alarms/nonsense").status_code == 404
    assert client.get("/manage/steps/support/nonsense").status_code == 404
    assert client.get("/manage/steps.csv?version=nonsense&team=nonsense").status_code == 200


def test_the_json_twins(app: Flask) -> None:
    client = client_of(app, "johtaja")
    alarms = client.get("/api/manage/alarms").get_json()
    assert alarms["team"] == "all"
    assert [(a["kind"], a["count"]) for a in alarms["alarms"]][3] == ("idle", 3)
    steps = client.get("/api/manage/steps?team=north").get_json()
    review = next(s for s in steps["steps"] if s["elementId"] == "review")
    assert review == {"processKey": "support", "version": 1, "elementId": "review", "name": "Review", "kind": "task",
                      "waiting": 2, "cases": 2, "ageP50Seconds": int(9.5 * 86400), "ageP90Seconds": int(9.9 * 86400),
                      "ageMaxSeconds": 10 * 86400, "overdue": 1, "periodCompleted": 0, "periodMedianSeconds": None,
                      "periodP90Seconds": None}
    assert (steps["periodFrom"], steps["periodTo"]) == ("2025-12-17", "2026-01-15")
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/manage/steps"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"team", "municipality", "version", "referral_source",
                                                            "site", "period", "from", "to"}


def test_the_figures_come_from_the_schedulers_summary_and_the_lists_are_live(app: Flask, engine: Engine,
                                                                             clock: TestClock) -> None:
    client = client_of(app, "johtaja")
    first = clock()
    assert client.get("/api/manage/steps").get_json()["asOf"] == first.isoformat()  # the first use computes it
    case_id = engine.start("support", "TKT-9", {"reviewDue": None})
    clock.advance(minutes=5)
    kept = client.get("/api/manage/steps").get_json()
    assert kept["asOf"] == first.isoformat()
    assert next(s for s in kept["steps"] if s["elementId"] == "review")["waiting"] == 4
    page = client.get("/manage").get_data(as_text=True)
    at = page[page.index('id="figures-at"'):][:120]
    assert "Figures as of 1/15/26, 11:00" in at, at
    listed = rows_of(client.get("/manage/steps/support/review?format=csv"))
    assert [r[0] for r in listed[1:]] == ["TKT-0", "TKT-1", "TKT-2", "TKT-3", "TKT-9"]  # no client case: all scope
    refresh_summary(engine)
    fresh = client.get("/api/manage/steps").get_json()
    assert fresh["asOf"] == clock().isoformat()
    assert next(s for s in fresh["steps"] if s["elementId"] == "review")["waiting"] == 5
    assert case_id


def test_the_time_spent_in_the_period_and_the_filters(app: Flask, engine: Engine, clock: TestClock) -> None:
    with engine.db.transaction() as s:
        keys = dict(s.execute(select(Case.business_key, Case.id)).all())
        s.get(ClientCase, keys["TKT-0"]).referral_source = ReferralSource.KELA  # type: ignore[union-attr]
    for key in ("TKT-0", "TKT-1", "TKT-2"):  # review took 10, 9 and 7 days, done on day 10 (2026-01-15)
        [task] = [t for t in engine.open_tasks(keys[key]) if t.element_id == "review"]
        engine.complete_task(task.id)
    clock.advance(minutes=10)
    refresh_summary(engine)
    client = client_of(app, "johtaja")
    page = client.get("/manage").get_data(as_text=True)
    table = page[page.index('id="manage-steps"'):]
    review = table[table.index("/manage/steps/support/review"):][:2000]
    assert "9 d " in review and "3 completed" in review  # the median 9 days, within the bucket error
    assert "rounded to within 9 %" in page
    rows = {r[2]: r for r in rows_of(client.get("/manage/steps.csv?period=90"))[1:]}
    assert rows["review"][11:14] == ["2025-10-18", "2026-01-15", "3"]
    assert abs(float(rows["review"][14]) / (9 * 24) - 1) <= BUCKET_ERROR
    kela = {r[2]: r for r in rows_of(client.get("/manage/steps.csv?referral_source=kela"))[1:]}
    assert kela["review"][13] == "1" and kela["notify"][5] == "1"
    dates = {r[2]: r for r in rows_of(client.get("/manage/steps.csv?period=dates&from=2026-01-16&to=2026-01-20"))[1:]}
    assert dates["notify"][11:14] == ["2026-01-16", "2026-01-20", "0"]
    # a wrong date: a clear message linking to the field, the input kept, the last 30 days meanwhile
    wrong = client.get("/manage?period=dates&from=2026-13-01&to=2026-01-20")
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 200 and 'href="#filter-from"' in text and 'value="2026-13-01"' in text
    assert "Enter a date as year-month-day" in text
    backwards = client.get("/manage?period=dates&from=2026-01-20&to=2026-01-01").get_data(as_text=True)
    assert "The end date must not be before the start date." in backwards
    # at most three years (a ten-year range would draw ~520 weekly columns on /manage/flow); three exactly is fine
    too_long = client.get("/manage/flow?period=dates&from=2016-01-01&to=2025-12-31")
    long_text = too_long.get_data(as_text=True)
    assert 'href="#filter-to"' in long_text and "The period may be at most three years" in long_text
    assert 'value="2016-01-01"' in long_text
    assert "at most three years" not in client.get("/manage?period=dates&from=2023-01-01&to=2025-12-31").get_data(
        as_text=True)
    # the site variant filter shows only when a site variant is deployed
    assert 'id="filter-site"' not in page
    with engine.db.transaction() as s:
        for deployment in s.scalars(select(Deployment)):
            deployment.source = "/srv/polku/bpmn/sites/iisalmi"
    refresh_summary(engine)
    iisalmi = rows_of(client.get("/manage/steps.csv?site=iisalmi"))
    assert {r[2]: r[5] for r in iisalmi[1:]}["notify"] == "4"


def test_every_manage_page_has_the_sub_navigation(app: Flask) -> None:
    client = client_of(app, "maria")
    for path in ("/manage", "/manage/alarms/idle", "/manage/steps/support/review"):
        page = client.get(path).get_data(as_text=True)
        nav = page[page.index('id="manage-subnav"'):]
        nav = nav[:nav.index("</nav>")]
        assert "Alarms and waits" in nav and 'href="/manage?' not in nav, path
    page = client.get("/manage").get_data(as_text=True)
    assert 'href="/manage" aria-current="page">Alarms and waits<' in page
