"""The duplicate check works from `clientId`; a case saved before that (with `personalId`) still runs."""

from __future__ import annotations

from engine.runtime import Engine
from tests.conftest import TestClock
from tests.engine.runtime_support import incidents_of
from tests.scenarios.conftest import make_world


def test_a_case_started_with_the_identity_code_before_this_version_is_received_by_the_check(
        engine: Engine, clock: TestClock) -> None:
    world = make_world(engine, clock)
    code = "311299-998D"
    case = engine.correlate("referral", business_key="OLD-1", variables={  # as referrals were started before
        "clientName": "Vanha Lähete", "personalId": code, "phone": "050 000 0000", "referrer": "Työllisyyspalvelut"})[0]
    world.work()

    variables = engine.case(case)["variables"]
    record = world.client_case(code)
    assert record is not None and record.case_id == case and variables["clientId"] == record.client_id
    assert variables["personalId"] is None and variables["clientName"] is None and variables["phone"] is None
    assert world.open_tasks(case) == ["needs_mapping"]


def test_a_case_without_a_client_is_an_incident_not_a_guess(engine: Engine, clock: TestClock) -> None:
    world = make_world(engine, clock)
    for business_key, variables in [("NONE-1", {"referrer": "Työllisyyspalvelut"}),
                                    ("NONE-2", {"clientId": "no-such-client"})]:
        case = engine.correlate("referral", business_key=business_key, variables=variables)[0]
        world.work()
        [incident] = incidents_of(engine, case)
        assert incident.element_id == "check_duplicate" and "client" in (incident.message or "")
        assert world.open_tasks(case) == []
