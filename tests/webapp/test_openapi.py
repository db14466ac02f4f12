"""`/api/openapi.json` describes every /engine-rest and /api route, and nothing that does not exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.users import Role
from engine.runtime import Engine
from tests.webapp.support import app_client, basic
from webapp.api.openapi import DETAILS, HIDDEN

METHODS = {"get", "post", "put", "delete", "patch"}


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, {"root": Role.ADMIN, "anna": Role.COORDINATOR, "boss": Role.MANAGER})


def routes(app: Flask) -> set[tuple[str, str]]:
    """(path, method) of the app's API routes, read from Flask directly (not through the generator)."""
    out: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/engine-rest", "/api")) and rule.endpoint not in HIDDEN:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            out.update((path, m.lower()) for m in rule.methods or () if m.lower() in METHODS)
    return out


def test_every_route_is_documented_and_every_documented_route_exists(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    doc: dict[str, Any] = response.json or {}
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "Polku"
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}
    expected = routes(client.application)
    assert documented == expected, (sorted(expected - documented), sorted(documented - expected))
    assert ("/engine-rest/task/{task_id}/submit-form", "post") in documented
    assert ("/api/openapi.json", "get") in documented


def test_details_name_only_real_endpoints(client: FlaskClient) -> None:
    endpoints = set(client.application.view_functions)
    assert set(DETAILS) <= endpoints, sorted(set(DETAILS) - endpoints)


def test_operations_are_complete(client: FlaskClient) -> None:
    doc: dict[str, Any] = client.get("/api/openapi.json").json or {}
    ids = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), (path, method)
            assert operation["summary"] and operation["responses"]
            if path.startswith("/engine-rest"):
                assert operation["security"] == [{"basic": []}, {"bearer": []}] and operation["x-polku-roles"]
                assert "400" in operation["responses"] and "401" in operation["responses"]
            for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(operation).replace("'", '"')):
                assert ref in doc["components"]["schemas"], ref
    assert len(ids) == len(set(ids))  # operation ids are unique
    task_list = doc["paths"]["/engine-rest/task"]["get"]
    assert {"candidateGroup", "sortBy", "maxResults"} <= {p["name"] for p in task_list["parameters"]}
    assert "coordinator" in task_list["x-polku-roles"] and "worker" not in task_list["x-polku-roles"]
    assert doc["paths"]["/engine-rest/task/{task_id}/claim"]["post"]["requestBody"]["required"] is True


def test_the_documented_reads_answer(client: FlaskClient) -> None:
    """Each GET without path parameters answers as documented (never 404 or 500): for an admin, and under
    /api/manage (managers and team leads only) for a manager."""
    doc: dict[str, Any] = client.get("/api/openapi.json").json or {}
    for path, item in doc["paths"].items():
        operation: dict[str, Any] | None = item.get("get")
        if operation is None or "{" in path:
            continue
        response = client.get(path, headers=basic("boss" if path.startswith("/api/manage") else "root"))
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
