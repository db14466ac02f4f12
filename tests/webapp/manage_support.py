"""What the management pages' tests share: the teams they sign in to, a signed-in client, CSV rows and JSON."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.teams import add_member, add_team
from casework.users import Role, StaffUser
from tests.conftest import TestClock
from tests.webapp.support import sign_in

ACCOUNTS = {"maria": Role.TEAM_LEAD, "johtaja": Role.MANAGER, "anna": Role.COORDINATOR}


def add_teams(s: Session, clock: TestClock) -> None:
    """Two teams, north (led by maria) and south; every account reads English (the tests match English texts)."""
    add_team(s, "north", "North", clock())
    add_team(s, "south", "South", clock())
    add_member(s, "north", "maria")
    for user in s.scalars(select(StaffUser)):
        user.language = "en"


def register_manage(app: Flask) -> Flask:
    """The lead registers the blueprints in webapp/__init__.py; until then the tests do it right after create_app."""
    from webapp import manage

    if "manage" not in app.blueprints:
        app.register_blueprint(manage.bp)
        app.register_blueprint(manage.api)
    return app


def client_of(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, user)
    return client


def rows_of(response: Any) -> list[list[str]]:
    """A CSV download's rows: UTF-8 with BOM (for Excel), semicolon-separated."""
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def get_json(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    data: dict[str, Any] = response.get_json()
    return data


def downloaded_rows(page: Any, locator: str) -> list[list[str]]:
    """Click a CSV link in a real browser (Playwright page) and read the file it saved: the same checks as
    `rows_of`, so the browser tests see what Excel would."""
    with page.expect_download() as event:
        page.locator(locator).click()
    data = Path(event.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV must start with a BOM (Excel reads it as UTF-8)"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
