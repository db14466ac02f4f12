"""Every response carries the security headers; links ignore the Host header; the overview is local only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.users import Role, add_user
from engine.runtime import Engine
from tests.engine.runtime_support import single_job
from tests.webapp.support import app_client, basic, password_hash
from webapp import create_app

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    engine.deploy({"jobs.bpmn": single_job()})
    return app_client(engine, {"integ": Role.INTEGRATION})


def responses(client: FlaskClient) -> dict[str, object]:
    """One response of each kind: page, refusal, JSON, API success and errors, static file, unknown path."""
    integ = basic("integ")
    return {
        "overview": client.get("/overview"),
        "overview refused": client.get("/overview", environ_base=REMOTE),
        "health": client.get("/health"),
        "api start": client.post("/engine-rest/process-definition/key/jobs/start", json={}, headers=integ),
        "api 401": client.get("/engine-rest/task"),
        "api 400": client.get("/engine-rest/task", query_string={"maxResults": "x"}, headers=integ),
        "api 404": client.get("/engine-rest/nothing/here", headers=integ),
        "page 404": client.get("/nothing/here"),
        "static": client.get("/static/polku.css"),
    }


def test_every_response_carries_the_security_headers(client: FlaskClient) -> None:
    for name, response in responses(client).items():
        headers = response.headers  # type: ignore[attr-defined]
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, name
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), name
        assert "Strict-Transport-Security" not in headers, name  # plain http, no setting: browsers would ignore it
        assert not re.search(r"\d", headers.get("Server", "")), name
        if name != "static":
            assert headers.get("Cache-Control") == "no-store", name


def test_the_overview_runs_no_inline_script_or_style(client: FlaskClient) -> None:
    page = client.get("/overview").get_data(as_text=True)
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\son\w+=", page)  # no inline event handlers either
    assert client.get("/static/polku.css").status_code == 200


def test_hsts_on_https_requests_and_behind_the_setting(engine: Engine) -> None:
    plain = create_app({"ENGINE": engine}).test_client()
    assert "max-age=" in plain.get("/health", base_url="https://polku.example.fi").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in plain.get("/health").headers
    behind_proxy = create_app({"ENGINE": engine, "HSTS": True}).test_client()
    assert "max-age=" in behind_proxy.get("/health").headers["Strict-Transport-Security"]


def test_links_come_from_the_configured_base_url_not_the_host_header(engine: Engine) -> None:
    with engine.db.transaction() as session:
        add_user(session, "integ", "Integration", [Role.INTEGRATION], engine.clock()).password_hash = password_hash()
    engine.deploy({"jobs.bpmn": single_job()})
    client = create_app({"ENGINE": engine, "BASE_URL": "https://polku.example.fi/"}).test_client()

    response = client.post("/engine-rest/process-definition/key/jobs/start", json={},
                           headers={**basic("integ"), "Host": "evil.example", "X-Forwarded-Host": "evil.example"})

    assert response.status_code == 200
    started: Any = response.json
    assert started["links"][0]["href"] == f"https://polku.example.fi/engine-rest/process-instance/{started['id']}"

    bare = create_app({"ENGINE": engine}).test_client()  # no base configured: a relative link, never the Host
    response = bare.post("/engine-rest/process-definition/key/jobs/start", json={},
                         headers={**basic("integ"), "Host": "evil.example"})
    started = response.json
    assert started["links"][0]["href"] == f"/engine-rest/process-instance/{started['id']}"


def test_the_overview_is_shown_only_to_this_machine_unless_configured(engine: Engine) -> None:
    local = create_app({"ENGINE": engine}).test_client()
    assert local.get("/overview").status_code == 200
    assert local.get("/overview", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert local.get("/overview", environ_base=REMOTE).status_code == 403
    # behind a reverse proxy on the same machine every peer is 127.0.0.1: a forwarded request is not local
    assert local.get("/overview", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert local.get("/overview", headers={"Forwarded": "for=203.0.113.7"}).status_code == 403
    assert local.get("/health", environ_base=REMOTE).status_code == 200

    everyone = create_app({"ENGINE": engine, "SHOW_OVERVIEW": "all"}).test_client()
    assert everyone.get("/overview", environ_base=REMOTE).status_code == 200
    nobody = create_app({"ENGINE": engine, "SHOW_OVERVIEW": "off"}).test_client()
    assert nobody.get("/overview").status_code == 403
