"""The event log downloads (`/manage/export`) as a manager or team lead uses them: the page, XES and CSV streamed
with their headers, the filters, one access-log row per exported case, and 403 for a coordinator."""

from __future__ import annotations

import csv
import inspect
import io
import secrets
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.event_log import pseudonym, pseudonym_key
from casework.identity_code import IdentityCodeKeys
from casework.users import Role
from engine.runtime import Engine
from tests.casework.test_event_log import NAMES, SECRET_NOTE, three_cases
from tests.conftest import TestClock
from tests.webapp.manage_support import add_teams, client_of
from tests.webapp.support import app_client

ACCOUNTS = {"maria": Role.TEAM_LEAD, "johtaja": Role.MANAGER, "anna": Role.COORDINATOR, "cecilia": Role.CASE_MANAGER}
X = "{http://www.xes-standard.org/}"


@pytest.fixture
def app(engine: Engine, clock: TestClock) -> Flask:
    first = app_client(engine, accounts=ACCOUNTS, IDENTITY_CODE_KEYS=IdentityCodeKeys(secrets.token_urlsafe(32)),
                       SECRET_KEY=secrets.token_hex(32))
    with engine.db.transaction() as s:
        add_teams(s, clock)
    return first.application


@pytest.fixture
def ready(app: Flask, engine: Engine, clock: TestClock) -> dict[str, str]:
    """done (north): the whole path by the coordinator, the case manager and a worker; waiting (south): at the
    plan; early (north): closed without a plan 60 days before."""
    return three_cases(engine, clock, IdentityCodeKeys(secrets.token_urlsafe(32)), "anna", "anna", {})


def capture(app: Flask) -> list[Any]:
    """The app's own response objects (the test client wraps their body), to see the body is a generator."""
    seen: list[Any] = []

    @app.after_request
    def keep(response: Any) -> Any:
        seen.append(response)
        return response

    return seen




def names(app: Flask, cases: dict[str, str]) -> dict[str, str]:
    key = pseudonym_key(str(app.config["SECRET_KEY"]))
    return {k: pseudonym(key, v) for k, v in cases.items()}


def traces(data: bytes) -> dict[str, list[dict[str, str]]]:
    root = etree.fromstring(data)
    out = {}
    for trace in root.iter(f"{X}trace"):
        name = trace[0].get("value")
        out[name] = [{c.get("key"): c.get("value") for c in e} for e in trace.iter(f"{X}event")]
    return out


def csv_rows(response: Any) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def exports(engine: Engine) -> list[tuple[str, str, str, AccessAction]]:
    with engine.db.read() as s:
        return sorted((r.user_id, r.case_id or "", r.what, r.action) for r in s.scalars(select(AccessLogEntry)))


def test_a_coordinator_and_a_case_manager_get_403(app: Flask, engine: Engine, ready: dict[str, str]) -> None:
    for user in ("anna", "cecilia"):
        client = client_of(app, user)
        for path in ("/manage/export", "/manage/export/events.xes", "/manage/export/events.csv"):
            assert client.get(path).status_code == 403, (user, path)
    assert app.test_client().get("/manage/export/events.xes").status_code == 302  # to the sign-in page
    assert [r for r in exports(engine) if r[3] is AccessAction.EXPORT] == []


def test_the_page_explains_both_formats_and_links_them_with_the_filters(app: Flask, ready: dict[str, str]) -> None:
    client = client_of(app, "johtaja")
    page = client.get("/manage/export?team=south&process=service_coordination").get_data(as_text=True)
    assert 'id="manage-subnav"' in page and 'aria-current="page"' in page
    assert "IEEE 1849-2016" in page and "case;activity;start;end;resource_role" in page
    assert 'id="manage-filters"' in page and 'value="service_coordination" selected' in page
    assert 'href="/manage/export/events.xes?team=south&amp;process=service_coordination"' in page
    assert 'href="/manage/export/events.csv?team=south&amp;process=service_coordination"' in page
    for name in NAMES:
        assert name not in page


def test_the_xes_download_streams_with_its_headers(app: Flask, engine: Engine, ready: dict[str, str]) -> None:
    seen = capture(app)
    client = client_of(app, "johtaja")
    response = client.get("/manage/export/events.xes?team=all", buffered=False)
    assert response.status_code == 200 and response.mimetype == "application/xml"
    # streamed: a generator the server sends piece by piece, no length known in advance
    assert response.is_streamed and inspect.isgenerator(seen[-1].response)
    assert "Content-Length" not in response.headers
    disposition = response.headers["Content-Disposition"]
    # the last 30 days by default (today is 2026-03-04); no team, person or case in the name
    assert disposition == 'attachment; filename="polku-event-log-both-2026-02-03--2026-03-04.xes"'
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    pseudonyms = names(app, ready)
    found = traces(data)
    assert set(found) == {pseudonyms["done"], pseudonyms["waiting"]}  # the early case ended long before
    assert [e["concept:name"] for e in found[pseudonyms["done"]] if e["lifecycle:transition"] == "complete"] == [
        "Referral received", "Intake", "Plan", "Notify", "Service chosen", "Arrange the service", "Service arranged",
        "Coordinate services", "Closed"]
    assert {e["org:role"] for e in found[pseudonyms["done"]]} == {"system", "coordinator", "case_manager", "worker"}
    text = data.decode()
    for value in (*NAMES, SECRET_NOTE, "TKT-", "anna", "cecilia", "notifier-7", *ready.values()):
        assert value not in text, value
    # the same pseudonyms in the next export
    assert set(traces(client.get("/manage/export/events.xes?team=all").get_data())) == set(found)


def test_each_exported_case_is_in_the_access_log_once(app: Flask, engine: Engine, ready: dict[str, str]) -> None:
    client = client_of(app, "johtaja")
    client.get("/manage/export/events.xes?team=all").get_data()
    client.get("/manage/export/events.csv?team=south").get_data()
    rows = [r for r in exports(engine) if r[0] == "johtaja"]
    assert rows == sorted([
        ("johtaja", ready["done"], "event log export (XES, pseudonymised)", AccessAction.EXPORT),
        ("johtaja", ready["waiting"], "event log export (XES, pseudonymised)", AccessAction.EXPORT),
        ("johtaja", ready["waiting"], "event log export (CSV, pseudonymised)", AccessAction.EXPORT)])


def test_the_csv_download_and_its_filters(app: Flask, engine: Engine, ready: dict[str, str]) -> None:
    seen = capture(app)
    client = client_of(app, "johtaja")
    pseudonyms = names(app, ready)
    response = client.get("/manage/export/events.csv?team=all", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert inspect.isgenerator(seen[-1].response) and "Content-Length" not in response.headers
    assert response.headers["Content-Disposition"].startswith('attachment; filename="polku-event-log-both-')
    rows = csv_rows(response)
    assert rows[0] == ["case", "activity", "start", "end", "resource_role", "element_id", "process"]
    assert {r[0] for r in rows[1:]} == {pseudonyms["done"], pseudonyms["waiting"]}
    intake = next(r for r in rows[1:] if r[0] == pseudonyms["done"] and r[5] == "intake")
    assert intake[1:5] == ["Intake", "2026-03-02T10:00:00.000+02:00", "2026-03-02T11:00:00.000+02:00", "coordinator"]

    def cases_of(query: str) -> set[str]:
        return {r[0] for r in csv_rows(client.get(f"/manage/export/events.csv?{query}"))[1:]}

    assert cases_of("team=south") == {pseudonyms["waiting"]}
    assert cases_of("team=all&municipality=Espoo") == {pseudonyms["done"]}
    assert cases_of("team=all&period=dates&from=2026-01-01&to=2026-01-05") == {pseudonyms["early"]}
    assert cases_of("team=all&period=365") == set(pseudonyms.values())
    called = csv_rows(client.get("/manage/export/events.csv?team=all&process=service_coordination"))[1:]
    assert {r[0] for r in called} == {pseudonyms["done"]} and {r[6] for r in called} == {"coordination"}
    main = csv_rows(client.get("/manage/export/events.csv?team=all&process=main"))[1:]
    assert {r[6] for r in main} == {"support"}


def test_a_team_lead_exports_only_their_teams(app: Flask, engine: Engine, ready: dict[str, str]) -> None:
    client = client_of(app, "maria")
    pseudonyms = names(app, ready)
    # a team not theirs falls back to their own team (north)
    for query in ("", "team=south", "team=all"):
        rows = csv_rows(client.get(f"/manage/export/events.csv?{query}"))
        assert {r[0] for r in rows[1:]} == {pseudonyms["done"]}, query


def test_wrong_dates_show_the_page_with_the_error_and_export_nothing(app: Flask, engine: Engine,
                                                                     ready: dict[str, str]) -> None:
    client = client_of(app, "johtaja")
    for path in ("/manage/export/events.xes", "/manage/export/events.csv", "/manage/export"):
        response = client.get(f"{path}?team=all&period=dates&from=2026-03-05&to=not-a-date")
        assert response.status_code == 400 and response.mimetype == "text/html", path
        page = response.get_data(as_text=True)
        assert 'id="error-summary"' in page and 'href="#filter-to"' in page
        assert 'value="not-a-date"' in page and 'aria-invalid="true"' in page  # the input kept
        assert 'id="download-xes"' not in page
    assert [r for r in exports(engine) if r[3] is AccessAction.EXPORT] == []
