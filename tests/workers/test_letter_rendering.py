"""The client letter's PDF is rendered before the write transaction opens, so writers never wait for WeasyPrint."""

from __future__ import annotations

import threading
import uuid
from typing import Any, cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool

from casework import letter as letter_module
from casework.case_manager import AssignmentReason, assign
from casework.client import register_client
from casework.client_case import open_case, record_decision
from casework.identity_code import IdentityCodeKeys
from casework.letter import Letter
from casework.notification import OutboxMessage
from casework.users import Role, add_user
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import WAIT, TestClock
from tests.diagrams import chain, process
from workers import letters
from workers.handler import JobContext
from workers.services import Services

CASE_PROCESS = process("letter_case", '<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="Work"/>'
                       '<bpmn:endEvent id="end"/>' + chain("start", "work", "end"))


@pytest.fixture
def services(db: Database, clock: TestClock) -> Services:
    return Services(db, clock, IdentityCodeKeys("x" * 32))


@pytest.fixture
def case_id(db: Database, engine: Engine, services: Services, clock: TestClock) -> str:
    """A client with an email address and a named case manager."""
    engine.deploy({"letter_case.bpmn": CASE_PROCESS})
    case_id = engine.start("letter_case", business_key="900P")
    with db.transaction() as s:
        add_user(s, "aino", "Aino Esimerkki", [Role.COORDINATOR], clock(), phone="040 123 4567")
        client = register_client(s, services.keys, name="Maija Meikäläinen", identity_code="010190-900P",
                                 at=clock(), email="maija@example.invalid", municipality="Iisalmi")
        open_case(s, case_id, client.id, clock(), referrer="Työllisyyspalvelut")
        record_decision(s, case_id, needs_case_manager=True, at=clock())
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock(), by="tiina")
    return case_id


def test_while_the_pdf_renders_the_handler_holds_no_transaction_and_another_writer_goes_ahead(
        db: Database, services: Services, case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    render = letter_module.render_pdf
    during: dict[str, Any] = {}

    def rendering_while_someone_writes(html: str) -> bytes:
        during["renders"] = during.get("renders", 0) + 1
        during["connections_held"] = cast(QueuePool, db.engine.pool).checkedout()
        wrote = threading.Event()

        def write() -> None:
            with db.transaction() as s:
                add_user(s, "bertta", "Bertta Kuvitteellinen", [Role.CASE_MANAGER], services.clock())
            wrote.set()

        threading.Thread(target=write, daemon=True).start()
        during["other_writer_done"] = wrote.wait(WAIT)
        return render(html)

    for module in (letter_module, letters):  # wherever the handler renders from
        monkeypatch.setattr(module, "render_pdf", rendering_while_someone_writes, raising=False)
    job = JobContext(id=str(uuid.uuid4()), topic=letters.TOPIC, case_id=case_id, business_key="900P",
                     variables={"letterType": "case-manager-named", "caseManager": "aino"}, services=services)

    first = dict(letters.client_letter(job) or {})
    again = dict(letters.client_letter(job) or {})  # the job ran twice: one letter, one mail, nothing rendered again

    assert during == {"renders": 1, "connections_held": 0, "other_writer_done": True}
    assert first == again
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Letter)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        letter = s.get(Letter, first["letterId"])
        assert letter is not None and letter.pdf.startswith(b"%PDF") and letter.case_manager_id == "aino"
