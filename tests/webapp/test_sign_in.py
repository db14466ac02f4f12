"""The sign-in page, sign-out and sessions, as a person (or someone guessing passwords) meets them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.users import Role, StaffUser
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.webapp.support import PASSWORD, app_client, csrf_token, sign_in

ACCOUNTS = {"anna": Role.COORDINATOR, "ville": Role.CASE_MANAGER}


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return english(app_client(engine, ACCOUNTS))


def post_login(client: FlaskClient, user: str, password: str, address: str = "127.0.0.1", **query: str) -> Any:
    token = csrf_token(client)
    return client.post("/login", query_string=query or None, environ_base={"REMOTE_ADDR": address},
                       data={"csrf_token": token, "user_id": user, "password": password})


def session_csrf_token(client: FlaskClient) -> str:
    """A CSRF token for this client's session, made as Flask-WTF makes the one every page's forms carry."""
    from itsdangerous import URLSafeTimedSerializer

    raw = "a-token-of-this-session"
    with client.session_transaction() as session:
        session["csrf_token"] = raw
    return str(URLSafeTimedSerializer(str(client.application.secret_key), salt="wtf-csrf-token").dumps(raw))


def signed_in(client: FlaskClient) -> bool:
    """Whether the session is signed in: the sign-in page sends a signed-in person on."""
    return client.get("/login").status_code == 302


def test_sign_in_and_sign_out(client: FlaskClient) -> None:
    assert not signed_in(client)
    response = post_login(client, "anna", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(client)

    out = client.post("/logout", data={"csrf_token": session_csrf_token(client)})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "You have signed out." in page and not signed_in(client)


def test_sign_out_needs_a_post_with_a_token(client: FlaskClient) -> None:
    sign_in(client, "anna")
    assert client.get("/logout").status_code == 405  # a link or an image elsewhere cannot sign anyone out
    assert client.post("/logout").status_code == 400
    assert signed_in(client)


def test_a_wrong_password_shows_the_form_again_with_the_user_name_kept(client: FlaskClient) -> None:
    response = post_login(client, "anna", "not the password")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "The user name or password is wrong." in page
    assert 'value="anna"' in page and "not the password" not in page  # the name kept, the password not
    assert 'id="error-summary"' in page and not signed_in(client)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client: FlaskClient) -> None:
    wrong = post_login(client, "anna", "not the password")
    unknown = post_login(client, "nobody.here", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    message = "The user name or password is wrong."
    assert message in unknown.get_data(as_text=True) and message in wrong.get_data(as_text=True)
    assert "exist" not in unknown.get_data(as_text=True)  # nothing tells which accounts exist


def test_empty_fields_are_named_next_to_the_field(client: FlaskClient) -> None:
    response = post_login(client, "", "")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter your user name." in page and "Enter your password." in page and 'href="#user_id"' in page


def test_a_deactivated_account_cannot_sign_in_and_its_open_session_ends(client: FlaskClient, engine: Engine) -> None:
    sign_in(client, "anna")
    with engine.db.transaction() as db:
        user = db.get(StaffUser, "anna")
        assert user is not None
        user.active = False
    assert not signed_in(client)  # the next request already finds no staff member
    assert post_login(client, "anna", PASSWORD).status_code == 401


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"user_id": "anna", "password": PASSWORD})
    assert response.status_code == 400 and not signed_in(client)
    forged = client.post("/login", data={"csrf_token": "forged", "user_id": "anna", "password": PASSWORD})
    assert forged.status_code == 400 and not signed_in(client)


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "evil.example", "javascript:alert(1)"])
def test_next_never_leads_off_the_site(client: FlaskClient, target: str) -> None:
    response = post_login(client, "anna", PASSWORD, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_next_leads_back_to_the_page_asked_for(client: FlaskClient) -> None:
    response = post_login(client, "anna", PASSWORD, next="/overview?tab=mine")
    assert response.headers["Location"] == "/overview?tab=mine"


def test_a_session_ends_after_the_idle_limit_and_the_page_says_why(engine: Engine, clock: TestClock) -> None:
    client = english(app_client(engine, ACCOUNTS, SESSION_IDLE_MINUTES=30))
    sign_in(client, "anna")
    clock.advance(minutes=29)
    assert signed_in(client)  # a request within the limit keeps the session alive ...
    clock.advance(minutes=29)
    assert signed_in(client)  # ... counted from the last request, not from the sign-in
    clock.advance(minutes=30, seconds=1)

    response = client.get("/login")
    assert response.status_code == 200
    assert "You were signed out after 30 minutes without activity." in response.get_data(as_text=True)
    assert "signed out after" not in client.get("/login").get_data(as_text=True)  # said once
    sign_in(client, "anna")
    assert signed_in(client)


def test_the_address_limit_on_posting_the_form_answers_a_friendly_429(engine: Engine) -> None:
    client = english(app_client(engine, ACCOUNTS, SIGN_IN_RATE_LIMIT="3 per minute"))
    for _ in range(3):
        assert post_login(client, "anna", "not the password", address="10.1.1.1").status_code == 401
    response = post_login(client, "anna", PASSWORD, address="10.1.1.1")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    page = response.get_data(as_text=True)
    assert "Too many sign-in attempts from this address" in page and '<form method="post"' in page
    assert "Traceback" not in page and not signed_in(client)
    assert post_login(client, "ville", PASSWORD, address="10.1.1.2").status_code == 302  # another address


def test_the_account_limit_holds_across_addresses(engine: Engine, clock: TestClock) -> None:
    client = english(app_client(engine, ACCOUNTS, SIGN_IN_LIMIT_ACCOUNT=3))
    for n in range(3):
        assert post_login(client, "anna", "not the password", address=f"10.2.0.{n}").status_code == 401
    refused = post_login(client, "anna", PASSWORD, address="10.2.0.9")  # the right password, elsewhere
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in refused.get_data(as_text=True)
    clock.advance(minutes=15)
    assert post_login(client, "anna", PASSWORD, address="10.2.0.9").status_code == 302


def test_session_cookie_flags(client: FlaskClient) -> None:
    response = post_login(client, "anna", PASSWORD)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("polku_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path"} <= flags and "samesite=lax" in cookie.lower()
    assert "secure" not in flags  # plain http (a developer's machine): a Secure cookie would never come back


def test_the_cookie_is_secure_when_polku_is_served_over_https(engine: Engine) -> None:
    from polku.settings import Settings

    settings = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "k" * 40,
                                  "POLKU_BASE_URL": "https://polku.example.fi"})
    config = settings.web_config()
    assert config["SESSION_COOKIE_SECURE"] is True
    client = english(app_client(engine, ACCOUNTS, **config))
    import re

    site = "https://polku.example.fi"
    page = client.get("/login", base_url=site).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match
    token = match.group(1)
    response = client.post("/login", base_url=site,
                           data={"csrf_token": token, "user_id": "anna", "password": PASSWORD},
                           headers={"Referer": "https://polku.example.fi/login"})
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("polku_session=")]
    assert response.status_code == 302
    assert cookies and all("; Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
