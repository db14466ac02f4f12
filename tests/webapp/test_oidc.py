"""Sign-in through a real OpenID Connect provider (npm oidc-provider started by the test), not a mock.

The whole authorization code flow runs: Polku sends the browser to the provider with state, nonce and a
PKCE challenge; the person signs in and consents on the provider's pages; the provider sends them back
with a code; Polku exchanges it, checks the ID token, and creates or refreshes the account from the
claims. A person whose groups give no Polku role is refused with a page that says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from casework.staff import load_staff
from casework.teams import add_team
from casework.users import Role, StaffUser
from engine.runtime import Engine
from tests.oidc.provider import authorize, node, running_provider
from tests.webapp.support import app_client, sign_in

pytestmark = pytest.mark.skipif(node() is None, reason="node and node_modules/oidc-provider (npm ci) are needed")

CALLBACK = "http://localhost/login/oidc/callback"
SECRET = "a-test-client-secret-of-polku-32-chars"
ACCOUNTS = {
    "anna.koordinaattori": {"name": "Anna Koordinaattori", "preferred_username": "anna.koordinaattori",
                            "email": "anna@example.fi", "groups": ["polku-coordinators", "staff-all"]},
    "olli.outsider": {"name": "Olli Outsider", "preferred_username": "olli.outsider", "groups": ["staff-all"]},
    "clerk": {"name": "Impostor", "preferred_username": "clerk", "groups": ["polku-coordinators"]},
}
GROUP_MAP = {"polku-coordinators": {"roles": ["coordinator"], "team": "turku"},
             "polku-leads": {"roles": ["team_lead"], "teams": ["turku"]}}


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with running_provider({"client_id": "polku", "client_secret": SECRET, "redirect_uris": [CALLBACK],
                           "accounts": ACCOUNTS}) as url:
        yield url


def oidc_config(issuer: str) -> dict[str, Any]:
    return {"issuer": issuer, "client_id": "polku", "client_secret": SECRET, "name": "Varha ID",
            "scopes": "openid profile email groups", "group_map": GROUP_MAP}


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def client(engine: Engine, issuer: str) -> FlaskClient:
    return english(app_client(engine, {"clerk": Role.CASE_MANAGER}, OIDC=oidc_config(issuer)))


def sign_in_at_provider(client: FlaskClient, login: str, next_path: str | None = None) -> Any:
    """Polku's button, the provider's pages, and the way back: the response of Polku's callback."""
    start = client.get("/login/oidc", query_string={"next": next_path} if next_path else None)
    assert start.status_code == 302
    back = authorize(start.headers["Location"], login, CALLBACK)
    parts = urlsplit(back)
    return client.get(parts.path, query_string=parts.query)


def test_the_sign_in_page_offers_the_provider(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Varha ID" in page and 'href="/login/oidc"' in page


def test_the_request_to_the_provider_carries_state_nonce_and_a_pkce_challenge(client: FlaskClient,
                                                                              issuer: str) -> None:
    location = client.get("/login/oidc").headers["Location"]
    assert location.startswith(issuer)
    query = parse_qs(urlsplit(location).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["polku"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert "groups" in query["scope"][0].split()


def test_first_sign_in_creates_the_account_with_the_mapped_role_and_team(client: FlaskClient,
                                                                        engine: Engine) -> None:
    response = sign_in_at_provider(client, "anna.koordinaattori", next_path="/overview")
    assert response.status_code == 302 and response.headers["Location"] == "/overview"

    with engine.db.read() as db:
        user = db.get(StaffUser, "anna.koordinaattori")
        assert user is not None and user.password_hash is None
        assert (user.name, user.email, user.roles) == ("Anna Koordinaattori", "anna@example.fi",
                                                       frozenset({Role.COORDINATOR}))
        staff = load_staff(db, "anna.koordinaattori")
    assert staff is not None and staff.teams == {"turku"} and "coordinators" in staff.groups
    assert client.get("/login").status_code == 302  # signed in: the sign-in page sends her on


def test_roles_and_teams_follow_the_claims_at_every_sign_in(engine: Engine, issuer: str) -> None:
    with engine.db.transaction() as db:
        add_team(db, "iisalmi", "Iisalmi", engine.clock())
    config = oidc_config(issuer)
    first = app_client(engine, {}, OIDC=config)
    assert sign_in_at_provider(first, "anna.koordinaattori").status_code == 302

    # the county now maps her group to team lead of Iisalmi instead
    config["group_map"] = {"polku-coordinators": {"roles": ["team_lead"], "team": "iisalmi"}}
    second = app_client(engine, {}, OIDC=config)
    assert sign_in_at_provider(second, "anna.koordinaattori").status_code == 302
    with engine.db.read() as db:
        staff = load_staff(db, "anna.koordinaattori")
    assert staff is not None and staff.roles == {Role.TEAM_LEAD} and staff.teams == {"iisalmi"}

    # and then to nothing: refused, and the account keeps no role it could use elsewhere (API, tokens)
    config["group_map"] = {"polku-leads": {"roles": ["team_lead"], "team": "iisalmi"}}
    third = english(app_client(engine, {}, OIDC=config))
    refused = sign_in_at_provider(third, "anna.koordinaattori")
    assert refused.status_code == 403
    with engine.db.read() as db:
        staff = load_staff(db, "anna.koordinaattori")
    assert staff is not None and staff.roles == frozenset() and staff.teams == frozenset()


def test_a_person_without_a_mapped_group_is_refused_with_a_clear_page(client: FlaskClient, engine: Engine) -> None:
    response = sign_in_at_provider(client, "olli.outsider")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "has no role in Polku" in page and "Varha ID" in page
    with engine.db.read() as db:
        assert db.get(StaffUser, "olli.outsider") is None  # no account for someone with no role
    assert client.get("/login").status_code == 200  # not signed in: the page offers sign-in


def test_a_provider_account_does_not_take_over_a_local_password_account(client: FlaskClient) -> None:
    response = sign_in_at_provider(client, "clerk")
    assert response.status_code == 403 and "account with a password" in response.get_data(as_text=True)
    sign_in(client, "clerk")  # the password still works, and the roles are the local ones


def test_a_deactivated_account_cannot_sign_in_through_the_provider(client: FlaskClient, engine: Engine) -> None:
    assert sign_in_at_provider(client, "anna.koordinaattori").status_code == 302
    with engine.db.transaction() as db:
        user = db.get(StaffUser, "anna.koordinaattori")
        assert user is not None
        user.active = False
    assert client.get("/login").status_code == 200  # the open session ended with the account
    response = sign_in_at_provider(client, "anna.koordinaattori")
    assert response.status_code == 403 and "deactivated" in response.get_data(as_text=True)


def test_a_callback_with_a_forged_state_or_an_error_signs_nobody_in(client: FlaskClient) -> None:
    start = client.get("/login/oidc")
    back = urlsplit(authorize(start.headers["Location"], "anna.koordinaattori", CALLBACK))
    query = parse_qs(back.query)
    forged = client.get(back.path, query_string={"code": query["code"][0], "state": "forged-state-value"})
    assert forged.status_code == 400 and "could not be completed" in forged.get_data(as_text=True)
    denied = client.get(back.path, query_string={"error": "access_denied", "state": query["state"][0]})
    assert denied.status_code == 400
    assert client.get("/login").status_code == 200  # still not signed in


def test_an_unreachable_provider_is_a_clear_page(engine: Engine) -> None:
    config = {**oidc_config("http://127.0.0.1:9"), "name": "Varha ID"}
    client = english(app_client(engine, {}, OIDC=config))
    response = client.get("/login/oidc")
    assert response.status_code == 502 and "cannot be reached" in response.get_data(as_text=True)


def test_the_settings_read_the_provider_from_the_environment(issuer: str) -> None:
    from polku.settings import oidc_settings

    env = {"POLKU_OIDC_ISSUER": issuer, "POLKU_OIDC_CLIENT_ID": "polku", "POLKU_OIDC_CLIENT_SECRET": SECRET,
           "POLKU_OIDC_GROUP_MAP": json.dumps(GROUP_MAP)}
    settings = oidc_settings(env)
    assert settings is not None and settings["roles_claim"] == "groups" and settings["group_map"] == GROUP_MAP
    with pytest.raises(ValueError, match="POLKU_OIDC_GROUP_MAP"):
        oidc_settings({**env, "POLKU_OIDC_GROUP_MAP": '{"x": {"roles": ["emperor"]}}'})
    with pytest.raises(ValueError, match="CLIENT_SECRET"):
        oidc_settings({**env, "POLKU_OIDC_CLIENT_SECRET": ""})
