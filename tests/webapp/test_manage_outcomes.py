"""The outcomes page (`/manage/outcomes`) as team leads and managers use it: the figures of known data, "< 5" for
small groups on the page, in CSV and JSON alike, the clients' free texts (shown from five answers, access-logged),
and 403 for a coordinator."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.client_case import ClosureReason
from casework.evaluation import FeedbackResponse, KnowsCaseManager
from casework.identity_code import IdentityCodeKeys
from casework.referral import ReferralSource
from casework.users import Role, add_user
from engine.runtime import Engine
from tests.casework.test_outcomes import NOW, Spec, build, deploy
from tests.conftest import TestClock
from tests.webapp.manage_support import ACCOUNTS, add_teams, client_of, register_manage, rows_of
from tests.webapp.support import app_client

SOURCES = [ReferralSource.EMPLOYMENT_SERVICES] * 4 + [ReferralSource.SELF]




@pytest.fixture
def cases(engine: Engine, clock: TestClock) -> dict[str, list[str]]:
    """North (Maria's team): five cases closed with answered feedback and a free text each, five open ones with a
    day's gap between case managers; south: one closed case of its own."""
    import webapp.manage  # noqa: F401  # its API blueprint must exist before create_app exempts it from CSRF

    keys = IdentityCodeKeys(secrets.token_urlsafe(32))
    client = app_client(engine, accounts=ACCOUNTS, IDENTITY_CODE_KEYS=keys)
    with engine.db.transaction() as s:
        add_user(s, "cm", "Case Manager", [Role.CASE_MANAGER], clock())
        add_teams(s, clock)
    deploy(engine)
    closed = [build(engine, clock, keys, Spec(
        source=source, decided=0, assignments=[(0, 40 + n)], closed=40 + n, knows=[(20, KnowsCaseManager.NO)],
        start_ratings={"physicalRating": 2, "psychologicalRating": 1, "socialRating": 1, "cognitiveRating": 0},
        destination=ClosureReason.EMPLOYMENT, closure_ratings=(1, 1, 1, 0),
        feedback=(FeedbackResponse.ANSWERED, 5, 4, 4, f"Kiitos {n}"))) for n, source in enumerate(SOURCES)]
    open_ = [build(engine, clock, keys, Spec(decided=0, assignments=[(0, 10), (11, None)],
                                             knows=[(20, KnowsCaseManager.YES)])) for _ in range(5)]
    south = [build(engine, clock, keys, Spec(
        team="south", decided=0, assignments=[(0, 30)], closed=30, destination=ClosureReason.MOVED_AWAY,
        closure_ratings=(0, 0, 0, 0), feedback=(FeedbackResponse.ANSWERED, 1, 1, 1, "Etelän teksti")))]
    clock.now = NOW
    register_manage(client.application)
    return {"closed": closed, "open": open_, "south": south, "app": [client.application]}  # type: ignore[list-item]


@pytest.fixture
def app(cases: dict[str, Any]) -> Flask:
    found: Flask = cases["app"][0]
    return found






def access_rows(engine: Engine, user: str) -> list[tuple[str, AccessAction]]:
    with engine.db.read() as s:
        return sorted((r.case_id, r.action) for r in s.scalars(select(AccessLogEntry)
                                                                .where(AccessLogEntry.user_id == user)))


TABLES = ("case-manager", "knows", "ratings", "goals", "services", "destinations", "responses", "feedback",
          "comments")


def test_a_coordinator_gets_403(app: Flask) -> None:
    client = client_of(app, "anna")
    assert client.get("/manage/outcomes").status_code == 403
    for table in TABLES:
        assert client.get(f"/manage/outcomes/{table}.csv").status_code == 403, table
    answer = client.get("/api/manage/outcomes")
    assert answer.status_code == 403 and answer.get_json()["type"] == "AuthorizationException"
    assert app.test_client().get("/manage/outcomes").status_code == 302  # not signed in: to the sign-in page


def test_the_team_lead_sees_their_teams_figures_and_reads_the_free_texts(app: Flask, engine: Engine,
                                                                          cases: dict[str, list[str]]) -> None:
    client = client_of(app, "maria")
    page = client.get("/manage/outcomes").get_data(as_text=True)
    assert "<h1>Outcomes</h1>" in page and 'aria-current="page"' in page  # the sub-navigation
    # ten north cases needed a case manager; five had a day's gap each
    assert 'id="always-named-share">50.0 %<' in page and 'id="days-without">5.0<' in page
    assert 'id="knows-share">50.0 %<' in page  # five yes (open), five no (closed): the latest answers
    ratings = page[page.index('id="rating-physical"'):]
    ratings = ratings[:ratings.index("</tr>")]
    assert ">5<" in ratings and "-1.00" in ratings and "100.0 %" in ratings and ">0 <" in ratings
    # no goals or services in the data: no share to show (a zero identifies no one; 1 to 4 would be "< 5")
    assert 'id="goals-reached-share">–<' in page and 'id="services-on-time-share">–<' in page
    assert "Cases closed in the period: 5." in page
    feedback = page[page.index('id="question-knew_whom_to_contact"'):]
    assert "5.0" in feedback[:feedback.index("</tr>")]
    # the free texts: Maria's team's only, alphabetical, no names or case numbers anywhere on the page
    comments = page[page.index('id="outcomes-comments"'):]
    assert [f"Kiitos {n}" in comments for n in range(5)] == [True] * 5
    assert comments.index("Kiitos 0") < comments.index("Kiitos 4")
    assert "Etelän teksti" not in page and "Testi Asiakas" not in page and "OUT-" not in page
    # reading them is an access: once, one row per case whose text was shown
    assert access_rows(engine, "maria") == sorted((c, AccessAction.VIEW) for c in cases["closed"])


def test_every_table_downloads_as_csv(app: Flask, engine: Engine, cases: dict[str, list[str]]) -> None:
    client = client_of(app, "maria")
    head, row = rows_of(client.get("/manage/outcomes/case-manager.csv"))
    assert head == ["period_from", "period_to", "cases", "always_named", "with_gap", "always_named_percent",
                    "days_without"]
    assert row[2:] == ["10", "5", "5", "50.0", "5.0"] and row[:2] == ["2025-07-25", "2026-07-24"]
    # zeros are shown (they identify no one); 1 to 4 would be "< 5"
    assert rows_of(client.get("/manage/outcomes/knows.csv"))[1][2:] == ["10", "5", "5", "50.0", "0"]
    ratings = {r[2]: r[3:] for r in rows_of(client.get("/manage/outcomes/ratings.csv"))[1:]}
    assert ratings["physical"] == ["5", "0", "-1.0", "5", "0", "0", "100.0", "0.0", "0.0"]
    assert ratings["psychological"][:3] == ["5", "0", "0.0"]
    assert rows_of(client.get("/manage/outcomes/goals.csv"))[1][2:] == ["0"] * 5 + [""]
    assert rows_of(client.get("/manage/outcomes/services.csv"))[1][2:] == ["0"] * 5 + ["", "0"]
    destinations = {r[2]: r[3:] for r in rows_of(client.get("/manage/outcomes/destinations.csv"))[1:]}
    assert destinations["employment"] == ["5", "100.0"] and destinations["moved_away"] == ["0", "0.0"]
    assert {r[2]: r[3] for r in rows_of(client.get("/manage/outcomes/responses.csv"))[1:]} == {
        "answered": "5", "paper": "0", "declined": "0", "not_reached": "0"}
    feedback = {r[2]: r[3:] for r in rows_of(client.get("/manage/outcomes/feedback.csv"))[1:]}
    assert feedback["knew_whom_to_contact"] == ["5", "0", "0", "0", "0", "5", "5.0"]
    assert feedback["got_services"] == ["5", "0", "0", "0", "5", "0", "4.0"]
    assert access_rows(engine, "maria") == []  # aggregates: nothing logged
    comments = rows_of(client.get("/manage/outcomes/comments.csv"))
    assert comments == [["comment"]] + [[f"Kiitos {n}"] for n in range(5)]
    assert access_rows(engine, "maria") == sorted((c, AccessAction.EXPORT) for c in cases["closed"])
    assert client.get("/manage/outcomes/nothing.csv").status_code == 404


def test_the_json_twin_has_the_same_suppressed_figures(app: Flask, engine: Engine) -> None:
    client = client_of(app, "johtaja")
    answer = client.get("/api/manage/outcomes")  # a manager: every team
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["team"] == "all" and body["version"] == "all"
    assert body["caseManager"] == {"cases": 11, "alwaysNamed": 6, "withGap": 5, "alwaysNamedShare": 0.545,
                                   "daysWithout": 5.0}
    assert body["closed"] == 6 and body["feedback"]["evaluated"] == 6
    physical = next(r for r in body["ratings"] if r["dimension"] == "physical")
    assert (physical["paired"], physical["unpaired"], physical["meanChange"]) == (5, "< 5", -1.0)
    assert body["feedback"]["comments"] == ["Etelän teksti"] + [f"Kiitos {n}" for n in range(5)]
    assert len(access_rows(engine, "johtaja")) == 6
    described = client.get("/api/openapi.json").get_json()
    assert "/api/manage/outcomes" in described["paths"]


def test_four_answers_hide_the_free_texts_and_five_show_them(app: Flask, engine: Engine) -> None:
    client = client_of(app, "maria")
    # employment services referred four of the five closed cases
    four = client.get("/api/manage/outcomes?referral_source=employment_services").get_json()
    assert four["closed"] == "< 5" and four["feedback"]["responses"]["answered"] == "< 5"
    assert four["feedback"]["commentsShown"] is False and four["feedback"]["comments"] == []
    page = client.get("/manage/outcomes?referral_source=employment_services").get_data(as_text=True)
    assert 'id="outcomes-comments-hidden"' in page and "Kiitos" not in page
    assert rows_of(client.get("/manage/outcomes/comments.csv?referral_source=employment_services")) == [["comment"]]
    assert access_rows(engine, "maria") == []  # nothing read, nothing logged
    five = client.get("/api/manage/outcomes").get_json()
    assert five["closed"] == 5 and five["feedback"]["commentsShown"] is True and len(five["feedback"]["comments"]) == 5


def test_the_period_filter_and_a_wrong_date(app: Flask) -> None:
    client = client_of(app, "maria")
    # only January 2026: the cases closed on days 40-44 (February) are outside
    body = client.get("/api/manage/outcomes?period=dates&from=2026-01-01&to=2026-01-31").get_json()
    assert body["period"] == {"from": "2026-01-01", "to": "2026-01-31"} and body["closed"] == 0
    assert body["caseManager"]["cases"] == 10
    page = client.get("/manage/outcomes?period=dates&from=2026-13-01&to=2026-01-31")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="error-summary"' in text and 'value="2026-13-01"' in text  # the input kept
    assert client.get("/api/manage/outcomes?period=dates&from=nope&to=2026-01-31").status_code == 400
