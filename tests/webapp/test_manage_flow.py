"""Lead times (/manage/flow) and workload (/manage/workload) as team leads and managers use them, with real cases
through bpmn/: the figures on the pages, their CSV and JSON, the rebalancing through the case manager change flow
(started for a chosen case, a clear conflict for a case already under change, refused for another team's case),
and 403 for a coordinator."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_actions import request_case_manager_change
from casework.case_manager import AssignmentReason
from casework.client_case import ClientCase
from casework.users import Role, StaffUser, add_user
from engine.models import Task, TaskStatus
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.scenarios.conftest import BROAD, make_world
from tests.webapp.manage_support import rows_of
from tests.webapp.support import basic, password_hash
from tests.webapp.test_task_page import OUTSIDER, Site, csrf, text_of

ANNA, VILLE, MARIA = "koordinaattori.anna", "koordinaattori.ville", "esihenkilo.maria"
BOSS = "johtaja.jussi"  # a manager who leads no team: figures only
HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = 86400


@pytest.fixture
def site(engine: Engine, clock: TestClock) -> Site:
    found = Site(make_world(engine, clock))
    with engine.db.transaction() as session:
        add_user(session, BOSS, "Jussi Johtaja", [Role.MANAGER], clock()).password_hash = password_hash()
        for user in session.scalars(select(StaffUser)):
            user.language = "en"
    return found


def named(site: Site, name: str, manager: str, wait_days: int) -> str:
    """A referral mapped as broad and decided `wait_days` after it came, with `manager` named."""
    case = site.world.refer(name)
    site.world.clock.advance(days=wait_days)
    site.world.task(case, "needs_mapping", BROAD, actor=ANNA)
    site.world.task(case, "confirm_decision", {"decision": "coordinator", "caseManager": manager}, actor=ANNA)
    return case


def key_of(site: Site, case: str) -> str:
    return str(site.engine.case(case)["businessKey"])




def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return text_of(match.group(0))


def row(html: str, row_id: str) -> list[str]:
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert match, f"no row {row_id}"
    return [text_of(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def page(site: Site, user: str, path: str) -> str:
    response = site.browser(user).get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def cases(site: Site) -> dict[str, str]:
    """Referral -> decision 1, 2, 3, 4 days in Turku (Anna thrice, Ville once) and 10 days in Salo (Olli)."""
    out = {"a1": named(site, "Testi Aalto", ANNA, 1), "a2": named(site, "Testi Berg", ANNA, 2),
           "a3": named(site, "Testi Cederlöf", ANNA, 3), "v1": named(site, "Testi Dahl", VILLE, 4),
           "o1": named(site, "Testi Ek", OUTSIDER, 10)}
    site.world.task(out["a1"], "make_plan", site.world.plan("employment"), actor=ANNA)  # follow-up every 3 months
    with site.engine.db.transaction() as session:  # a2's plan is a day late
        task = session.scalars(select(Task).where(Task.case_id == out["a2"], Task.status == TaskStatus.OPEN)).one()
        task.due = site.world.clock() - timedelta(days=1)
    return out


def test_lead_times_page_csv_and_json_show_the_known_figures(site: Site, cases: dict[str, str]) -> None:
    html = page(site, BOSS, "/manage/flow?team=all")
    # every team: 1, 2, 3, 4, 10 days -> median 3, p90 7.6; named the moment the decision was made
    assert row(html, "stretch-referral_to_decision")[1:] == ["5", "3.0 d", "7.6 d"]
    assert row(html, "stretch-decision_to_case_manager")[1:] == ["5", "0.0 d", "0.0 d"]
    assert row(html, "stretch-decision_to_plan")[1:] == ["1", "< 5 cases"]
    assert row(html, "stretch-referral_to_closure")[1:] == ["0", "No cases"]
    # Maria's team only: four cases, too few for percentiles
    mine = page(site, MARIA, "/manage/flow")
    assert row(mine, "stretch-referral_to_decision")[1:] == ["4", "< 5 cases"]
    # the charts have their numbers as tables too
    opened: dict[str, int] = {}
    with site.engine.db.read() as session:
        for record in session.scalars(select(ClientCase)):
            year, week, _ = record.opened_at.astimezone(HELSINKI).isocalendar()
            opened[f"{year}-W{week:02d}"] = opened.get(f"{year}-W{week:02d}", 0) + 1
    weekly = rows_of(site.browser(BOSS).get("/manage/flow/weekly.csv?team=all"))
    assert weekly[0] == ["week", "monday", "opened", "closed"]
    assert {r[0]: int(r[2]) for r in weekly[1:] if int(r[2])} == opened and sum(int(r[3]) for r in weekly[1:]) == 0
    assert 'role="img"' in html and 'id="flow-weekly-table"' in html and "Cases opened and closed per week" in html
    times = rows_of(site.browser(BOSS).get("/manage/flow/lead-times.csv?team=all"))
    assert times[0] == ["stretch", "cases", "median_days", "p90_days"]
    assert times[1] == ["referral_to_decision", "5", "3,0", "7,6"] and times[3] == ["plan_to_service", "0", "", ""]
    assert rows_of(site.browser(BOSS).get("/manage/flow/next-responsible.csv?team=all"))[1:] == [
        ["named", "0"], ["not_named", "0"]]
    assert site.browser(BOSS).get("/manage/flow/nothing.csv").status_code == 404
    found = site.app.test_client().get("/api/manage/lead-times?team=all", headers=basic(BOSS)).get_json()
    decision = next(t for t in found["leadTimes"] if t["stretch"] == "referral_to_decision")
    assert decision == {"stretch": "referral_to_decision", "count": 5, "p50Seconds": 3 * DAY,
                        "p90Seconds": round(7.6 * DAY)}
    assert sum(w["opened"] for w in found["weeks"]) == 5 and found["minCases"] == 5
    # a period that holds none of it; a wrong date is said next to its field and the last 30 days shown meanwhile
    empty = page(site, BOSS, "/manage/flow?team=all&period=dates&from=2020-01-01&to=2020-01-31")
    assert row(empty, "stretch-referral_to_decision")[1:] == ["0", "No cases"]
    wrong = site.browser(BOSS).get("/manage/flow?team=all&period=dates&from=2026-13-01&to=2026-01-31")
    assert wrong.status_code == 200
    assert 'id="filter-from-error"' in wrong.get_data(as_text=True)
    assert row(wrong.get_data(as_text=True), "stretch-referral_to_decision")[1] == "5"
    bad = site.app.test_client().get("/api/manage/lead-times?period=dates&from=x&to=y", headers=basic(BOSS))
    assert bad.status_code == 400


def test_workload_counts_cases_tasks_overdue_and_follow_up_intervals(site: Site, cases: dict[str, str]) -> None:
    html = page(site, MARIA, "/manage/workload")
    intervals = ["1 month", "3 months", "6 months", "12 months", "No plan yet"]
    assert [text_of(h).strip() for h in re.findall(r'<th scope="col" class="polku-num">(.*?)</th>',
                                                   html)][3:8] == intervals
    # Anna: three cases (a1 has a plan with a 3-month follow-up), a task in each, a2's plan overdue
    assert row(html, f"person-{ANNA}") == ["Anna Koordinaattori", "3", "3", "1", "0", "1", "0", "0", "2"]
    assert row(html, f"person-{VILLE}") == ["Ville Koordinaattori", "1", "1", "0", "0", "0", "0", "0", "1"]
    assert row(html, "person-sosiaalityo.pekka")[1:4] == ["0", "0", "0"]  # in the team, nothing yet
    assert f"person-{OUTSIDER}" not in html  # Salo is not Maria's team
    assert row(html, "team-turku") == ["Työkykytiimi Turku", "4", "4", "1", "0", "1", "0", "0", "3"]
    people = rows_of(site.browser(MARIA).get("/manage/workload/people.csv"))
    assert people[0] == ["user_id", "name", "active_cases", "open_tasks", "overdue_tasks", "follow_up_1_months",
                         "follow_up_3_months", "follow_up_6_months", "follow_up_12_months", "no_plan"]
    assert [ANNA, "Anna Koordinaattori", "3", "3", "1", "0", "1", "0", "0", "2"] in people
    teams = rows_of(site.browser(BOSS).get("/manage/workload/teams.csv?team=all"))
    assert sorted(r[0] for r in teams[1:]) == ["salo", "turku"]
    found = site.app.test_client().get("/api/manage/workload?team=all", headers=basic(BOSS)).get_json()
    olli = next(p for p in found["people"] if p["id"] == OUTSIDER)
    assert (olli["activeCases"], olli["openTasks"], olli["byFollowUpMonths"]) == (1, 1, {"none": 1})
    anna = next(p for p in found["people"] if p["id"] == ANNA)
    assert anna["byFollowUpMonths"] == {"3": 1, "none": 2} and anna["overdueTasks"] == 1
    # a manager who leads no team sees the figures, not the rebalancing
    boss = page(site, BOSS, "/manage/workload?team=all")
    assert 'id="rebalance"' not in boss and row(boss, f"person-{OUTSIDER}")[1] == "1"
    assert site.browser(BOSS).post("/manage/workload/rebalance", data={"csrf_token": csrf(boss)}).status_code == 403


def test_a_team_lead_rebalances_chosen_cases_through_the_change_flow(site: Site, cases: dict[str, str]) -> None:
    keys = {name: key_of(site, case) for name, case in cases.items()}
    request_case_manager_change(site.engine, cases["a3"], AssignmentReason.BETTER_FIT, "Jo käynnissä", ANNA)
    site.world.work()
    html = page(site, MARIA, f"/manage/workload?manager={ANNA}")
    listed = re.findall(r'name="case" value="([^"]+)"', html)
    assert listed == sorted([keys["a1"], keys["a2"], keys["a3"]])
    assert re.search(rf'value="{keys["a3"]}" disabled', html) and "Change under way" in text_of(html)
    with site.engine.db.read() as session:
        viewed = session.scalars(select(AccessLogEntry.case_id).where(
            AccessLogEntry.what == "management workload: a case manager's cases")).all()
    assert sorted(viewed) == sorted([cases["a1"], cases["a2"], cases["a3"]])  # one row per listed case
    token = csrf(html)
    # nothing chosen, no reason, no words: said at the top and next to each field, nothing started
    response = site.browser(MARIA).post("/manage/workload/rebalance?team=mine",
                                        data={"csrf_token": token, "manager": ANNA, "note": ""})
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    assert "There is a problem" in text and "Choose at least one case." in text and "Write a few words" in text
    assert "name_new_case_manager" not in site.world.open_tasks(cases["a1"])
    # a1 starts, a3 is already under change, o1 is Salo's
    response = site.browser(MARIA).post("/manage/workload/rebalance?team=mine", data={
        "csrf_token": token, "manager": ANNA, "case": [keys["a1"], keys["a3"], keys["o1"]], "reason": "workload",
        "note": "Tasataan kuormaa"})
    assert response.status_code == 303 and "manager=" in response.headers["Location"]
    landed = site.browser(MARIA).get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    results = section(landed, "rebalance-results").replace(" :", ":")
    assert f"{keys['a1']}: the change of case manager started." in results
    assert f"{keys['a3']}: not changed. A change of case manager is already under way." in results
    assert f"{keys['o1']}: not changed. Not a case of a team you lead." in results
    assert "The change of case manager was started for 1 case." in text_of(landed)
    site.world.work()
    assert "name_new_case_manager" in site.world.open_tasks(cases["a1"])
    assert "name_new_case_manager" not in site.world.open_tasks(cases["o1"])
    with site.engine.db.read() as session:
        record = session.get(ClientCase, cases["a1"])
        assert record is not None and record.change_reason == "workload"
        logged = session.execute(select(AccessLogEntry.case_id, AccessLogEntry.action).where(
            AccessLogEntry.user_id == MARIA, AccessLogEntry.action.in_([AccessAction.UPDATE, AccessAction.DENIED])
        )).all()
    assert sorted(logged, key=lambda r: r[0]) == sorted([(cases["a1"], AccessAction.UPDATE),
                                                          (cases["a3"], AccessAction.UPDATE),
                                                          (cases["o1"], AccessAction.DENIED)], key=lambda r: r[0])
    # the results are shown once
    assert 'id="rebalance-results"' not in page(site, MARIA, f"/manage/workload?manager={ANNA}")


def test_a_coordinator_gets_403_everywhere(site: Site, cases: dict[str, str]) -> None:
    for path in ("/manage/flow", "/manage/workload", "/manage/flow/lead-times.csv", "/manage/workload/people.csv"):
        assert site.browser(ANNA).get(path).status_code == 403, path
    assert site.browser(ANNA).post("/manage/workload/rebalance", data={
        "csrf_token": csrf(page(site, ANNA, "/inbox"))}).status_code == 403
    for path in ("/api/manage/lead-times", "/api/manage/workload"):
        assert site.app.test_client().get(path, headers=basic(ANNA)).status_code == 403, path
