"""Authenticating /engine-rest callers: Werkzeug parses the header; verified passwords are cached under an HMAC."""

from __future__ import annotations

import hashlib

import pytest
from flask.testing import FlaskClient

from casework.users import Role, get_user
from engine.runtime import Engine
from tests.webapp.support import PASSWORD, app_client, basic
from webapp.engine_rest import auth

TASKS = "/engine-rest/external-task"


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, {"bot": Role.WORKER})


def test_the_password_cache_keeps_no_plain_hash_of_a_password(client: FlaskClient) -> None:
    assert client.get(TASKS, headers=basic("bot")).status_code == 200
    unsalted = hashlib.sha256(f"bot\0{PASSWORD}".encode()).hexdigest()
    assert unsalted not in auth.verified.entries
    assert auth.verified.key("bot", PASSWORD) in auth.verified.entries
    # The key is random per process (per cache): the same credentials give another entry key elsewhere.
    assert auth._VerifiedPasswords().key("bot", PASSWORD) != auth.verified.key("bot", PASSWORD)
    # Neither half of the credentials can move into the other: ("bo", "t:...") is another key.
    assert auth.verified.key("bo", "t:" + PASSWORD) != auth.verified.key("bot", PASSWORD)


def test_a_cached_password_stops_working_once_it_is_changed(client: FlaskClient, engine: Engine) -> None:
    assert client.get(TASKS, headers=basic("bot")).status_code == 200
    assert client.get(TASKS, headers=basic("bot")).status_code == 200  # from the cache
    with engine.db.transaction() as session:
        get_user(session, "bot").set_password("a brand new password")
    assert client.get(TASKS, headers=basic("bot")).status_code == 401
    assert client.get(TASKS, headers=basic("bot", "a brand new password")).status_code == 200


@pytest.mark.parametrize("header", [
    "Basic", "Basic !!!", "Basic " + "Ym90",  # no colon: "bot" alone
    "Bearer", "Bearer ", "Digest username=bot", "bot:" + PASSWORD,
])
def test_unreadable_or_unsupported_headers_are_401(client: FlaskClient, header: str) -> None:
    response = client.get(TASKS, headers={"Authorization": header})
    assert response.status_code == 401 and (response.json or {}).get("type") == "AuthenticationException"
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_the_scheme_is_case_insensitive(client: FlaskClient) -> None:
    header = basic("bot")["Authorization"].replace("Basic ", "basic  ")
    assert client.get(TASKS, headers={"Authorization": header}).status_code == 200
