"""Password guessing on /engine-rest is limited per account and per address, before any hash is computed.

Before, 120 wrong passwords in a burst were all checked and then the right one worked, and 80 guesses
in parallel kept both cores busy with argon2 for seconds.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.sign_in_limits import SignInLimits, SignInThrottle, TooManyFailures
from casework.users import Role, add_user, issue_token
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.webapp.support import basic, password_hash
from webapp import create_app

TASKS = "/engine-rest/external-task"
HERE, THERE = "10.0.0.1", "10.0.0.2"


def app_for(engine: Engine, **config: Any) -> Flask:
    with engine.db.transaction() as session:
        for name in ("bot", "other"):
            add_user(session, name, name.title(), [Role.WORKER], engine.clock()).password_hash = password_hash()
    return create_app({"ENGINE": engine, "TESTING": True, **config})


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_for(engine).test_client()


def get(client: FlaskClient, user: str, password: str | None = None, address: str = HERE) -> Any:
    headers = basic(user) if password is None else basic(user, password)
    return client.get(TASKS, headers=headers, environ_base={"REMOTE_ADDR": address})


def assert_too_many(response: Any, what: str) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.json["type"] == "AuthenticationException" and what in response.json["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 900


def test_a_burst_of_wrong_passwords_locks_the_account_until_the_window_passes(client: FlaskClient,
                                                                             clock: TestClock) -> None:
    for _ in range(10):
        assert get(client, "bot", "a wrong guess!").status_code == 401

    assert_too_many(get(client, "bot"), "this account")  # the right password too: nothing is checked now
    assert_too_many(get(client, "bot", address=THERE), "this account")
    assert get(client, "other", address=THERE).status_code == 200  # another account, another address
    assert get(client, "other").status_code == 200  # another account from the same address: under its limit

    clock.advance(minutes=14, seconds=59)
    assert_too_many(get(client, "bot"), "this account")
    clock.advance(seconds=1)
    assert get(client, "bot").status_code == 200


def test_successes_never_count_and_do_not_wipe_failures(client: FlaskClient) -> None:
    for _ in range(50):
        assert get(client, "bot").status_code == 200  # a worker polling all day
    for _ in range(9):
        assert get(client, "bot", "a wrong guess!").status_code == 401
    assert get(client, "bot").status_code == 200  # a right password between guesses buys the guesser nothing
    assert get(client, "bot", "a wrong guess!").status_code == 401
    assert_too_many(get(client, "bot", "a wrong guess!"), "this account")


def test_an_address_guessing_many_accounts_is_limited(engine: Engine) -> None:
    client = app_for(engine, SIGN_IN_LIMIT_ADDRESS=5).test_client()
    for n in range(5):
        assert get(client, f"guess-{n}", "a wrong guess!").status_code == 401
    assert_too_many(get(client, "bot"), "this address")
    assert get(client, "bot", address=THERE).status_code == 200
    # a bearer token is no password to guess (32 random bytes, one SHA-256): it works from a blocked address
    with engine.db.transaction() as session:
        _row, token = issue_token(session, "other", engine.clock())
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(TASKS, headers=bearer, environ_base={"REMOTE_ADDR": HERE}).status_code == 200


def test_parallel_guesses_past_the_limit_are_refused_without_checking_a_password(client: FlaskClient) -> None:
    """Each 401 cost an argon2 hash; each 429 cost none. A slot is taken before the hash, so at most 10 ran."""
    app = client.application
    barrier = threading.Barrier(30)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        own = app.test_client()
        barrier.wait()
        status = get(own, "bot", "a wrong guess!").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(set(statuses)) == [401, 429] and statuses.count(401) == 10


@pytest.mark.parametrize("user", ["bo\x00t", "\x00", "bot\x00"])
def test_a_nul_in_the_user_id_is_401_malformed_not_500(client: FlaskClient, user: str) -> None:
    response = get(client, user)
    assert response.status_code == 401 and response.json["type"] == "AuthenticationException"
    assert "malformed" in response.json["message"]


def test_the_throttle_gives_back_the_slot_of_a_success_and_stays_bounded(clock: TestClock) -> None:
    throttle = SignInThrottle(SignInLimits(per_account=2, per_address=100), clock, max_keys=10)
    first = throttle.begin("bot", HERE)
    second = throttle.begin("bot", HERE)
    with pytest.raises(TooManyFailures) as refused:
        throttle.begin("bot", THERE)  # two attempts under way use up the account, whatever their outcome
    assert refused.value.retry_after_s == 900
    throttle.release(first)
    throttle.release(first)  # twice is once
    assert throttle.failures(account="bot") == 1 and throttle.failures(address=HERE) == 1
    third = throttle.begin("bot", HERE)
    assert third is not second
    for n in range(30):  # far more accounts than the table holds
        throttle.begin(f"guess-{n}", None)
    assert len(throttle) <= 10
    with pytest.raises(ValueError):
        SignInLimits(per_account=0)
