"""The personal identity code: checksum and date validation, and its protected storage form."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from casework.client import ClientExists, find_by_identity_code, get_client, identity_code_of, register_client
from casework.identity_code import IdentityCodeKeys, InvalidIdentityCode, parse, validation_error
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock

C = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def code_for(ddmmyy: str, sign: str, individual: str = "902") -> str:
    return f"{ddmmyy}{sign}{individual}{C[int(ddmmyy + individual) % 31]}"


def test_a_valid_code_gives_its_birth_date() -> None:
    assert parse("131052-308T").birth_date == date(1952, 10, 13)  # the example code in public guidance


@pytest.mark.parametrize(("sign", "year"), [("+", 1899), ("-", 1999), ("Y", 1999), ("X", 1999), ("W", 1999),
                                            ("V", 1999), ("U", 1999), ("A", 2099), ("B", 2099), ("C", 2099),
                                            ("D", 2099), ("E", 2099), ("F", 2099)])
def test_each_century_sign_gives_its_century(sign: str, year: int) -> None:
    assert parse(code_for("150699", sign)).birth_date == date(year, 6, 15)


def test_a_typing_error_is_caught_by_the_check_character() -> None:
    with pytest.raises(InvalidIdentityCode, match="check character"):
        parse("131052-308U")
    assert validation_error("131053-308T") is not None  # one digit of the date mistyped


@pytest.mark.parametrize(("code", "message"), [
    (code_for("310299", "-"), "not a real date"),  # 31 February
    (code_for("290201", "A"), "not a real date"),  # 2001 is no leap year
    ("131052Z308T", "century sign"),
    ("131052-308", "11 characters"),
    (code_for("131052", "-", "001"), "not used"),
])
def test_impossible_codes_say_what_is_wrong(code: str, message: str) -> None:
    with pytest.raises(InvalidIdentityCode, match=message):
        parse(code)


def test_leap_day_2000_is_valid_and_spaces_and_case_are_ignored() -> None:
    code = code_for("290200", "A")
    assert parse(f"  {code.lower()} ").code == code
    assert validation_error(code) is None


def test_the_database_never_holds_the_plain_code(db: Database, keys: IdentityCodeKeys, clock: TestClock) -> None:
    code = "131052-308T"
    with db.transaction() as s:
        client = register_client(s, keys, name="Matti Meikäläinen", identity_code=code, at=clock())
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM client")).mappings().one()
    stored = " ".join(str(v) for v in row.values()) + bytes(row["identity_code_sealed"]).decode("latin-1")
    assert "131052" not in stored and "308T" not in stored
    with db.transaction() as s:
        assert identity_code_of(keys, get_client(s, client.id)) == code


def test_search_by_code_finds_the_client_in_any_spelling(db: Database, keys: IdentityCodeKeys,
                                                         clock: TestClock) -> None:
    with db.transaction() as s:
        client = register_client(s, keys, name="Maija Meikäläinen", identity_code="131052-308T", at=clock())
    with db.transaction() as s:
        found = find_by_identity_code(s, keys, " 131052-308t")
        assert found is not None and found.id == client.id
        assert find_by_identity_code(s, keys, code_for("131052", "-", "309")) is None
        assert find_by_identity_code(s, IdentityCodeKeys("another key entirely!"), "131052-308T") is None


def test_the_same_code_cannot_be_registered_twice(db: Database, keys: IdentityCodeKeys, clock: TestClock) -> None:
    with db.transaction() as s:
        first = register_client(s, keys, name="Matti Meikäläinen", identity_code="131052-308T", at=clock())
    with pytest.raises(ClientExists) as err, db.transaction() as s:
        register_client(s, keys, name="M. Meikäläinen", identity_code="131052-308t", at=clock())
    assert err.value.client_id == first.id


def test_an_invalid_code_is_not_registered(db: Database, keys: IdentityCodeKeys, clock: TestClock) -> None:
    with pytest.raises(InvalidIdentityCode), db.transaction() as s:
        register_client(s, keys, name="Matti Meikäläinen", identity_code="131052-308U", at=clock())
