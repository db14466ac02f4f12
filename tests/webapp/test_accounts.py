"""Accounts: argon2 passwords (with rehash), API tokens, and the `polku user` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from casework.errors import NotFound, Refused
from casework.users import (
    ApiToken,
    Role,
    StaffUser,
    add_user,
    authenticate_password,
    authenticate_token,
    issue_token,
    revoke_token,
    tokens_of,
)
from engine.runtime import Engine

POLKU = Path(sys.executable).with_name("polku")
ROOT = Path(__file__).resolve().parents[2]


def test_passwords_are_hashed_checked_and_rehashed(engine: Engine) -> None:
    with engine.db.transaction() as session:
        user = add_user(session, "aino", "Aino", [Role.INTEGRATION], engine.clock())
        with pytest.raises(Refused, match="12 characters"):
            user.set_password("too short")
        assert user.password_hash is None and not user.verify_password("")
        user.set_password("a long enough secret")
        assert user.password_hash.startswith("$argon2id$") and "a long enough secret" not in user.password_hash
        assert user.verify_password("a long enough secret") and not user.verify_password("a long enough secreT")

        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("an old stored secret")
        user.password_hash = weak
        assert user.verify_password("an old stored secret")
        assert user.password_hash != weak and not PasswordHasher().check_needs_rehash(user.password_hash)

    with engine.db.transaction() as session:
        assert authenticate_password(session, "aino", "an old stored secret").id == "aino"
        assert authenticate_password(session, "aino", "wrong password!!") is None
        assert authenticate_password(session, "nobody", "an old stored secret") is None
        session.get(StaffUser, "aino").active = False
    with engine.db.transaction() as session:
        assert authenticate_password(session, "aino", "an old stored secret") is None


def test_tokens_are_stored_hashed_and_stop_working_when_revoked(engine: Engine, clock) -> None:
    with engine.db.transaction() as session:
        add_user(session, "bot", "Bot", [Role.WORKER], clock())
        row, token = issue_token(session, "bot", clock(), "host-1")
        token_id = row.id
        assert row.token_hash != token and len(row.token_hash) == 64 and len(token) > 40
        with pytest.raises(NotFound):
            issue_token(session, "ghost", clock())
    with engine.db.transaction() as session:
        assert authenticate_token(session, token, clock()).id == "bot"
        assert authenticate_token(session, token + "x", clock()) is None
        assert session.get(ApiToken, token_id).last_used_at == clock()
    later = clock.advance(minutes=5)
    with engine.db.transaction() as session:
        authenticate_token(session, token, later)
        assert session.get(ApiToken, token_id).last_used_at == later
        authenticate_token(session, token, later + timedelta(seconds=5))  # within a minute: no write
        assert session.get(ApiToken, token_id).last_used_at == later
        revoke_token(session, token_id, later)
    with engine.db.transaction() as session:
        assert authenticate_token(session, token, later) is None
        assert [t.revoked_at for t in tokens_of(session, "bot")] == [later]


def test_polku_user_commands(database_url: str, engine: Engine, tmp_path: Path) -> None:
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("POLKU_DEBUG", None)

    def polku(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(POLKU), "user", *args], input=stdin, env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    added = polku("add", "bot", "--role", "worker", "--role", "integration", "--full-name", "Worker Bot",
                  stdin="a worker's long password\n")
    assert added.returncode == 0, added.stderr
    for args, stdin, message in [
        (("add", "bot", "--role", "worker"), "another long password\n", "already exists"),
        (("add", "x", "--role", "worker"), "short\n", "too short"),
        (("add", "x", "--role", "worker"), "\n", "no password"),
        (("add", "x", "--role", "boss"), "a long enough password\n", "unknown role 'boss'"),
        (("passwd", "ghost"), "a long enough password\n", "no staff user 'ghost'"),
        (("token", "ghost"), "", "no staff user 'ghost'"),
    ]:
        refused = polku(*args, stdin=stdin)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    token = polku("token", "bot", "--label", "host-1")
    assert token.returncode == 0
    assert polku("passwd", "bot", stdin="a brand new password\n").returncode == 0
    with engine.db.transaction() as session:
        user = session.get(StaffUser, "bot")
        assert (user.name, user.roles) == ("Worker Bot", frozenset({Role.WORKER, Role.INTEGRATION}))
        assert user.verify_password("a brand new password") and not user.verify_password("a worker's long password")
        assert authenticate_token(session, token.stdout.strip(), engine.clock()).id == "bot"
        assert session.get(StaffUser, "x") is None
    listed = polku("list")
    assert listed.stdout.strip() == "bot  integration,worker  active  password  tokens: 1  title: -  unit: -  teams: -"
