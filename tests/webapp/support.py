"""What the web tests share: accounts with one known password, and the app built around a test engine."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from flask.testing import FlaskClient

from casework.users import Role, add_user
from engine.runtime import Engine
from webapp import create_app

PASSWORD = "correct horse battery"
ROLES = {"bot": Role.WORKER, "integ": Role.INTEGRATION, "root": Role.ADMIN, "clerk": Role.CASE_MANAGER}


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@functools.cache
def password_hash() -> str:
    """Argon2 is slow on purpose: hash the shared test password once (test_accounts.py covers set_password)."""
    return PasswordHasher().hash(PASSWORD)


def app_client(engine: Engine, accounts: Mapping[str, Role] = ROLES, **config: Any) -> FlaskClient:
    """A test client of the app on `engine`, with one account per name (password PASSWORD, name as full name)."""
    with engine.db.transaction() as session:
        for name, role in accounts.items():
            add_user(session, name, name.title(), [role], engine.clock()).password_hash = password_hash()
    return create_app({"ENGINE": engine, "TESTING": True, **config}).test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path` (every form carries one; Flask-WTF refuses a post without it)."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, user: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page, as a person would."""
    response = client.post("/login", data={"csrf_token": csrf_token(client), "user_id": user, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
