"""Fixtures for casework: throw-away keys, staff, and clients with an engine case behind them."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from casework.client import register_client
from casework.client_case import open_case, record_decision
from casework.identity_code import IdentityCodeKeys
from casework.users import Role, add_user
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process

# Fictitious but checksum-valid codes (individual numbers 900-999 are the temporary series).
CODES = ["010190-900P", "131052-930V", "290200A901C", "311299-998D"]
CASE_PROCESS = process("casework_case", '<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="Work"/>'
                       '<bpmn:endEvent id="end"/>' + chain("start", "work", "end"))


@pytest.fixture
def keys() -> IdentityCodeKeys:
    return IdentityCodeKeys(secrets.token_urlsafe(32))


@pytest.fixture
def staff(db: Database, clock: TestClock) -> None:
    """Two coordinators, a case manager, a team lead."""
    with db.transaction() as s:
        add_user(s, "aino", "Aino Esimerkki", [Role.COORDINATOR], clock(), email="aino@example.invalid")
        add_user(s, "bertta", "Bertta Kuvitteellinen", [Role.COORDINATOR], clock())
        add_user(s, "cecilia", "Cecilia Testinen", [Role.CASE_MANAGER], clock())
        add_user(s, "tiina", "Tiina Tiiminvetäjä", [Role.TEAM_LEAD], clock())


@pytest.fixture
def new_case(db: Database, engine: Engine, keys: IdentityCodeKeys, clock: TestClock) -> Callable[..., str]:
    """Registers a client, starts an engine case for them and records it; returns the case id."""
    engine.deploy({"casework_case.bpmn": CASE_PROCESS})
    used: list[str] = []

    def make(decided: bool = True) -> str:
        code = CODES[len(used)]
        used.append(code)
        case_id = engine.start("casework_case", business_key=code[-4:])
        with db.transaction() as s:
            client = register_client(s, keys, name=f"Testi Asiakas {len(used)}", identity_code=code, at=clock())
            open_case(s, case_id, client.id, clock(), referrer="Työllisyyspalvelut")
            if decided:
                record_decision(s, case_id, needs_case_manager=True, at=clock())
        return case_id

    return make
