"""The `client-letter` handler and casework.letter: what the client reads in the PDF, and how it reaches them."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from casework.case_manager import AssignmentReason, assign, current_case_manager
from casework.client import Language, register_client
from casework.client_case import ClosureReason, open_case, record_decision
from casework.handover import close_case
from casework.identity_code import IdentityCodeKeys
from casework.letter import (
    Delivery,
    Letter,
    LetterKind,
    get_letter,
    letters_of_case,
    letters_to_print,
    mark_printed,
    write_letter,
)
from casework.notification import OutboxMessage, messages_of_case
from casework.plan import ClientTask, Goal, PlanDraft, PlannedService, ServiceType, save_plan
from casework.users import Role, add_user
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process
from workers import builtins
from workers.handler import Failure, JobContext
from workers.letters import client_letter
from workers.services import Services

CODES = ["010190-900P", "131052-930V", "290200A901C", "311299-998D"]
CASE_PROCESS = process("letter_case", '<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="Work"/>'
                       '<bpmn:endEvent id="end"/>' + chain("start", "work", "end"))


def pdf_text(pdf: bytes) -> str:
    """The text a client would read, with line breaks and hyphenation folded into single spaces."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def keys() -> IdentityCodeKeys:
    return IdentityCodeKeys("x" * 32)


@pytest.fixture
def services(db: Database, clock: TestClock, keys: IdentityCodeKeys) -> Services:
    return Services(db, clock, keys)


@pytest.fixture
def staff(db: Database, clock: TestClock) -> None:
    with db.transaction() as s:
        add_user(s, "aino", "Aino Esimerkki", [Role.COORDINATOR], clock(), email="aino.esimerkki@example.invalid",
                 phone="040 123 4567")
        add_user(s, "bertta", "Bertta Kuvitteellinen", [Role.CASE_MANAGER], clock(), phone="050 765 4321")


@pytest.fixture
def new_case(db: Database, engine: Engine, keys: IdentityCodeKeys, clock: TestClock,
             staff: None) -> Callable[..., str]:
    """A client with an engine case and its casework record; `manager` names the case manager."""
    engine.deploy({"letter_case.bpmn": CASE_PROCESS})
    used: list[str] = []

    def make(name: str = "Maija Meikäläinen", language: Language = Language.FI, email: str | None = None,
             manager: str | None = "aino") -> str:
        code = CODES[len(used)]
        used.append(code)
        case_id = engine.start("letter_case", business_key=code[-4:])
        with db.transaction() as s:
            client = register_client(s, keys, name=name, identity_code=code, at=clock(), language=language,
                                     email=email, municipality="Iisalmi")
            open_case(s, case_id, client.id, clock(), referrer="Työllisyyspalvelut")
            record_decision(s, case_id, needs_case_manager=manager is not None, at=clock())
            if manager is not None:
                assign(s, case_id, manager, AssignmentReason.INITIAL, clock(), by="tiina")
        return case_id

    return make


def add_plan(db: Database, clock: TestClock, case_id: str) -> None:
    draft = PlanDraft(
        goals=[Goal("Osa-aikatyö kaupan alalla", date(2026, 12, 31), "Aino Esimerkki", main=True),
               Goal("Työkyvyn arvio valmis", date(2026, 3, 31), "Aino Esimerkki")],
        services=[PlannedService(ServiceType.WORK_TRIAL, "Iisalmen Kauppa Oy", "Kalle Kauppias", date(2026, 2, 1),
                                 description="Kolme kuukautta, 4 tuntia päivässä")],
        client_tasks=[ClientTask("Varaa aika työttömien terveystarkastukseen", date(2026, 1, 31))],
        follow_up_months=3, next_meeting=date(2026, 3, 2))
    with db.transaction() as s:
        save_plan(s, case_id, draft, by="aino", at=clock())


def run(services: Services, case_id: str, letter_type: str, job_id: str | None = None,
        **variables: Any) -> dict[str, Any]:
    ctx = JobContext(id=job_id or str(uuid.uuid4()), topic="client-letter", case_id=case_id, business_key="key",
                     variables={"letterType": letter_type, **variables}, services=services)
    return dict(client_letter(ctx) or {})


def stored(db: Database, letter_id: int) -> tuple[Letter, str]:
    with db.transaction() as s:
        letter = get_letter(s, letter_id)
        return letter, pdf_text(letter.pdf)


def test_the_handler_is_a_builtin() -> None:
    assert "client-letter" in builtins.registry
    assert "workers.letters" in builtins.BUILTIN_MODULES


def test_case_manager_letter_names_the_case_manager_and_the_plan(db: Database, clock: TestClock, services: Services,
                                                                 new_case: Callable[..., str]) -> None:
    case_id = new_case()
    add_plan(db, clock, case_id)
    result = run(services, case_id, "case-manager-named", caseManager="aino")
    letter, text = stored(db, result["letterId"])
    assert letter.kind is LetterKind.CASE_MANAGER_NAMED and letter.language == "fi"
    assert letter.title == "Asiakasvastaavasi työkyvyn tuessa"
    assert "Maija Meikäläinen" in text
    assert "Aino Esimerkki" in text and "040 123 4567" in text and "aino.esimerkki@example.invalid" in text
    assert "Päätavoite: Osa-aikatyö kaupan alalla" in text
    assert "Työkyvyn arvio valmis, tavoiteaika 31.3.2026" in text
    assert "Työkokeilu" in text and "Iisalmen Kauppa Oy" in text and "Kalle Kauppias" in text
    assert "Alkaa viimeistään 1.2.2026" in text
    assert "Varaa aika työttömien terveystarkastukseen, 31.1.2026 mennessä" in text
    assert "3 kuukauden välein" in text
    assert "Seuraava tapaamisesi asiakasvastaavan kanssa on 2.3.2026" in text
    assert "5.1.2026" in text and "Iisalmi" in text  # the letter's date and the sender's header
    # No email address: the letter waits for printing, nothing is queued, the client is not yet informed.
    assert letter.delivery is Delivery.PRINT and letter.printed_at is None
    with db.transaction() as s:
        assert messages_of_case(s, case_id) == []
        assert [x.id for x in letters_to_print(s)] == [letter.id]
        assert current_case_manager(s, case_id).client_informed_at is None
    clock.advance(hours=2)
    with db.transaction() as s:
        mark_printed(s, letter.id, clock())
    with db.transaction() as s:
        assert get_letter(s, letter.id).printed_at == clock()
        assert letters_to_print(s) == []
        assert current_case_manager(s, case_id).client_informed_at == clock()


def test_without_a_plan_the_next_step_is_making_one(db: Database, services: Services,
                                                    new_case: Callable[..., str]) -> None:
    case_id = new_case()
    _, text = stored(db, run(services, case_id, "case-manager-named")["letterId"])
    assert "Aino Esimerkki" in text and "040 123 4567" in text
    assert "Asiakasvastaavasi ottaa sinuun yhteyttä. Teette yhdessä suunnitelman" in text
    assert "Suunnitelmasi" not in text


def test_a_swedish_client_with_email_gets_a_swedish_letter_by_email(db: Database, clock: TestClock,
                                                                    services: Services,
                                                                    new_case: Callable[..., str]) -> None:
    case_id = new_case(name="Stina Svensson", language=Language.SV, email="stina@example.invalid")
    add_plan(db, clock, case_id)
    result = run(services, case_id, "case-manager-named", caseManager="aino")
    letter, text = stored(db, result["letterId"])
    assert letter.language == "sv" and letter.delivery is Delivery.EMAIL
    assert letter.title == "Din klientansvariga inom stödet för arbetsförmåga"
    assert "Hej Stina Svensson" in text and "Din klientansvariga" in text and "Telefon: 040 123 4567" in text
    assert "Huvudmål: Osa-aikatyö kaupan alalla" in text and "Arbetsprövning" in text
    assert "Börjar senast 1.2.2026" in text and "Ditt nästa möte med din klientansvariga är 2.3.2026" in text
    assert "asiakasvastaava" not in text.lower()
    with db.transaction() as s:
        [message] = messages_of_case(s, case_id)
        assert message.key == f"letter:{letter.id}" and message.recipient == f"client:{letter.client_id}"
        assert message.to_address == "stina@example.invalid" and message.language == "sv"
        assert "Stina Svensson" in message.body and "Aino Esimerkki" in message.body
        assert message.subject == letter.title
        [attachment] = message.attachments
        assert attachment.content_type == "application/pdf" and attachment.filename.endswith(".pdf")
        assert attachment.content == get_letter(s, letter.id).pdf
        assert current_case_manager(s, case_id).client_informed_at == clock()


def test_a_job_run_twice_stores_one_letter_and_queues_one_mail(db: Database, services: Services,
                                                                new_case: Callable[..., str]) -> None:
    case_id = new_case(email="maija@example.invalid")
    first = run(services, case_id, "case-manager-named", job_id="job-1")
    second = run(services, case_id, "case-manager-named", job_id="job-1")
    assert first == second
    with db.transaction() as s:
        assert len(letters_of_case(s, case_id)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    third = run(services, case_id, "case-manager-named", job_id="job-2")  # another job: another letter
    assert third["letterId"] != first["letterId"]


def test_change_letter_names_the_previous_and_the_new_case_manager(db: Database, clock: TestClock,
                                                                   services: Services,
                                                                   new_case: Callable[..., str]) -> None:
    case_id = new_case()
    add_plan(db, clock, case_id)
    clock.advance(days=30)
    with db.transaction() as s:
        assign(s, case_id, "bertta", AssignmentReason.STAFF_LEAVING, clock(), by="tiina")
    result = run(services, case_id, "case-manager-changed", caseManager="bertta", jointMeetingDate="2026-02-03")
    letter, text = stored(db, result["letterId"])
    assert letter.title == "Asiakasvastaavasi vaihtuu" and letter.case_manager_id == "bertta"
    assert "Tähän asti asiakasvastaavanasi on ollut Aino Esimerkki" in text
    assert "Uusi asiakasvastaavasi on Bertta Kuvitteellinen" in text and "050 765 4321" in text
    assert "Kävimme vaihdon läpi yhteisessä tapaamisessa 3.2.2026" in text
    assert "Suunnitelmasi pysyy voimassa" in text and "Osa-aikatyö kaupan alalla" in text


def test_closure_summary_names_the_next_responsible_and_the_reason(db: Database, services: Services,
                                                                   new_case: Callable[..., str]) -> None:
    case_id = new_case(name="Matti Virtanen")
    result = run(services, case_id, "closure-summary", closureReason="vocational_rehabilitation",
                 nextResponsible="Kela, kuntoutusasiantuntija Liisa Laine",
                 nextResponsibleContact="020 692 200, liisa.laine@example.invalid",
                 summaryForClient="Työkykysi on arvioitu.\nAmmatillinen kuntoutus alkaa helmikuussa.",
                 meetingDate="2026-01-02")
    letter, text = stored(db, result["letterId"])
    assert letter.kind is LetterKind.CLOSURE_SUMMARY and letter.case_manager_id is None
    assert "Matti Virtanen" in text
    assert "Siirryt Kelan ammatilliseen kuntoutukseen." in text
    assert "Kela, kuntoutusasiantuntija Liisa Laine" in text and "020 692 200" in text
    assert "Tapasimme yhdessä jatkosta vastaavan kanssa 2.1.2026" in text
    assert "Ammatillinen kuntoutus alkaa helmikuussa." in text
    assert "Aino Esimerkki" in text and "040 123 4567" in text  # whom to ask about the letter


def test_closure_summary_after_the_closure_reads_the_case_record(db: Database, clock: TestClock,
                                                                 new_case: Callable[..., str]) -> None:
    case_id = new_case(language=Language.EN)
    with db.transaction() as s:
        close_case(s, case_id, ClosureReason.EMPLOYMENT_SERVICES, clock(), next_responsible="Employment services",
                   next_contact="0295 000", summary="We agreed you continue with employment services.")
    with db.transaction() as s:
        letter = write_letter(s, case_id=case_id, kind=LetterKind.CLOSURE_SUMMARY, key="test:closure", at=clock())
        text = pdf_text(letter.pdf)
    assert letter.title == "Summary: your work ability support is ending"
    assert "You continue with employment services only." in text
    assert "From now on, please contact: Employment services, 0295 000." in text
    assert "Aino Esimerkki" in text  # the last case manager, although the assignment has ended


def test_guidance_letter_names_the_destination(db: Database, clock: TestClock, services: Services,
                                               new_case: Callable[..., str]) -> None:
    case_id = new_case(manager=None)
    clock.now = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # already 6 January in Finland
    result = run(services, case_id, "guidance-to-basic-services", basicServicesDestination="typ")
    letter, text = stored(db, result["letterId"])
    assert letter.title == "Ohjaus palveluihin"
    assert "Työllistymistä edistävä monialainen yhteispalvelu (TYP)" in text
    assert "sinulle ei nimetä erillistä asiakasvastaavaa" in text
    assert "Mitä seuraavaksi?" in text and "6.1.2026" in text


def test_missing_facts_fail_the_job_clearly(db: Database, engine: Engine, services: Services,
                                            new_case: Callable[..., str]) -> None:
    with pytest.raises(Failure, match="no casework record"):
        run(services, str(uuid.uuid4()), "case-manager-named")
    case_id = new_case(manager=None)
    with pytest.raises(Failure, match="unknown letterType"):
        run(services, case_id, "birthday-card")
    with pytest.raises(Failure, match="no current case manager"):
        run(services, case_id, "case-manager-named")
    with pytest.raises(Failure, match="destination"):
        run(services, case_id, "guidance-to-basic-services")
    other = new_case()
    with pytest.raises(Failure, match="names 'bertta'"):
        run(services, other, "case-manager-named", caseManager="bertta")
    with pytest.raises(Failure, match="without Polku's services"):
        client_letter(JobContext(id="j", topic="client-letter", case_id=other, business_key=None,
                                 variables={"letterType": "case-manager-named"}))
    with db.transaction() as s:
        assert letters_of_case(s, case_id) == [] and letters_of_case(s, other) == []
