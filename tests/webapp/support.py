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
