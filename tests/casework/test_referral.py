"""Receiving a referral: the client record gets the identity code (sealed), the name and the contact details;
the variables for the process get `clientId` instead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from casework.client import Client, Language, find_by_identity_code, identity_code_of
from casework.errors import CaseworkError
from casework.identity_code import IdentityCodeKeys, InvalidIdentityCode
from casework.referral import carries_identity_code, receive_referral
from engine.db import Database
from tests.casework.conftest import CODES
from tests.conftest import TestClock

REFERRAL = {"clientName": "Testi Aaltonen", "personalId": CODES[0], "phone": "050 000 0001",
            "email": "testi@example.invalid", "municipality": "Esimerkkilä", "language": "sv",
            "referralReason": "Pitkä työttömyys", "referralConsent": True, "urgency": "normal",
            "referrer": "Työllisyyspalvelut"}


def receive(db: Database, keys: IdentityCodeKeys, clock: TestClock, **changes: Any) -> dict[str, Any]:
    with db.transaction() as session:
        return receive_referral(session, keys, {**REFERRAL, **changes}, clock())


def clients(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Client)) or 0


def test_a_new_client_is_registered_and_the_process_gets_only_their_id(db: Database, keys: IdentityCodeKeys,
                                                                        clock: TestClock) -> None:
    variables = receive(db, keys, clock)

    assert variables == {"clientId": variables["clientId"], "language": "sv", "referralReason": "Pitkä työttömyys",
                         "referralConsent": True, "urgency": "normal", "referrer": "Työllisyyspalvelut"}
    with db.transaction() as session:
        client = session.get(Client, variables["clientId"])
        assert client is not None
        assert (client.name, client.phone, client.email, client.municipality, client.language) == (
            "Testi Aaltonen", "050 000 0001", "testi@example.invalid", "Esimerkkilä", Language.SV)
        assert identity_code_of(keys, client) == CODES[0]
        assert CODES[0].encode() not in client.identity_code_sealed


def test_a_known_client_is_found_by_the_code_and_their_record_is_kept(db: Database, keys: IdentityCodeKeys,
                                                                       clock: TestClock) -> None:
    first = receive(db, keys, clock)
    again = receive(db, keys, clock, personalId=CODES[0].lower().replace("-", " -"), clientName="Toinen Nimi",
                    phone=None, email=None)

    assert again["clientId"] == first["clientId"] and clients(db) == 1
    with db.transaction() as session:
        client = find_by_identity_code(session, keys, CODES[0])
        assert client is not None and (client.name, client.phone) == ("Testi Aaltonen", "050 000 0001")


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"personalId": "010190-900A"}, InvalidIdentityCode, "check character"),
    ({"personalId": ""}, InvalidIdentityCode, "no personal identity code"),
    ({"personalId": None}, InvalidIdentityCode, "no personal identity code"),
    ({"clientName": "  "}, CaseworkError, "name is required"),
    ({"clientId": "someone-else"}, CaseworkError, "not both"),
])
def test_a_referral_that_cannot_be_received_registers_nobody(db: Database, keys: IdentityCodeKeys, clock: TestClock,
                                                             changes: dict[str, Any], error: type[Exception],
                                                             message: str) -> None:
    with pytest.raises(error, match=message):
        receive(db, keys, clock, **changes)
    assert clients(db) == 0


def test_only_variables_with_an_identity_code_need_receiving() -> None:
    assert carries_identity_code(REFERRAL) and carries_identity_code({"personalId": None})
    assert not carries_identity_code({"clientId": "c-1", "clientName": "Testi Aaltonen"})
