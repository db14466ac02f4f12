"""Mail through the outbox against a real SMTP server on loopback: what arrives, when, and how often.

Also the `staff-notification` handler, called directly and run by the Runner from a tiny process.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from casework.identity_code import IdentityCodeKeys
from casework.mail_templates import compose
from casework.notification import Attachment, MessageStatus, OutboxMessage, enqueue
from casework.users import Role, StaffUser, add_user
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import WAIT, wait_for
from tests.diagrams import chain, process
from workers import builtins
from workers.handler import Failure, JobContext
from workers.mail import MAX_ATTEMPTS, Mailer, message_id, retry_delay, send_due
from workers.mail import start_background as start_mailer
from workers.notifications import staff_notification
from workers.runner import Runner
from workers.services import MailSettings, Services

if TYPE_CHECKING:
    from tests.conftest import TestClock

PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"  # binary content must survive base64 both ways


# -- the SMTP server ---------------------------------------------------------------------------------

@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts; replies queued in `data_replies` are given first."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # e.g. "451 ..." for the next DATA
    refuse: dict[str, str] = field(default_factory=dict)  # recipient address -> RCPT reply
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    for attempt in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=WAIT)
        try:
            controller.start()
            break
        except Exception:  # noqa: BLE001 - aiosmtpd re-raises what stopped its thread
            if attempt == 2:
                raise
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture
def services(db: Database, clock: TestClock, smtp: tuple[Inbox, int]) -> Services:
    return Services(db, clock, IdentityCodeKeys("x" * 32), MailSettings("127.0.0.1", smtp[1], timeout_s=5))


def queue(db: Database, clock: TestClock, key: str, to: str | None = "anna@example.invalid", language: str = "fi",
          attachments: tuple[Attachment, ...] = (), case_id: str | None = None) -> int:
    subject, body = compose("letter", language, client_name="Anna Asiakas", case_manager_name="Aino Esimerkki",
                            letter_title="Asiakasvastaavasi" if language == "fi" else "Din klientansvariga")
    with db.transaction() as s:
        return enqueue(s, key=key, recipient="client:1", to_address=to, language=language, subject=subject,
                       body=body, at=clock(), case_id=case_id, attachments=attachments).id


def row(db: Database, message_id_: int) -> OutboxMessage:
    with db.transaction() as s:
        found = s.get(OutboxMessage, message_id_)
        assert found is not None
        return found


def rows(db: Database) -> list[OutboxMessage]:
    with db.transaction() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return part.get_content()




# -- the mailer --------------------------------------------------------------------------------------

def test_mail_arrives_in_the_recipients_language_with_its_attachments(db, clock, services, inbox) -> None:
    letter = Attachment("brev.pdf", "application/pdf", PDF)
    notes = Attachment("bilaga.txt", "text/plain", "Åtgärder: ärende 1\n".encode())
    sv = queue(db, clock, "letter:1", to="anna@example.invalid", language="sv", attachments=(letter, notes))
    fi = queue(db, clock, "letter:2", to="pekka@example.invalid", language="fi")

    assert send_due(services) == 2

    [mail] = inbox.to("anna@example.invalid")
    assert mail["Subject"] == "Din klientansvariga"
    assert mail["From"] == MailSettings.sender
    assert mail["Message-ID"] == message_id("letter:1", MailSettings.sender)
    body = text_of(mail)
    assert "Hej Anna Asiakas" in body and "Din klientansvariga är Aino Esimerkki" in body
    attachments = {a.get_filename(): (a.get_content_type(), a.get_content()) for a in mail.iter_attachments()}
    assert attachments == {"brev.pdf": ("application/pdf", PDF), "bilaga.txt": ("text/plain", "Åtgärder: ärende 1\n")}
    [finnish] = inbox.to("pekka@example.invalid")
    assert finnish["Subject"] == "Asiakasvastaavasi" and "Asiakasvastaavasi on Aino Esimerkki" in text_of(finnish)
    assert inbox.envelopes[0] == ("polku@localhost", ["anna@example.invalid"])

    sent = row(db, sv)
    assert (sent.status, sent.attempts, sent.sent_at, sent.locked_until, sent.last_error) == (
        MessageStatus.SENT, 1, clock.now, None, None)
    assert row(db, fi).status is MessageStatus.SENT
    assert send_due(services) == 0 and len(inbox.messages) == 2  # a second call sends nothing again


def test_unknown_language_falls_back_to_finnish() -> None:
    assert compose("follow-up-reminder", "de", case_key="K-1") == compose("follow-up-reminder", "fi", case_key="K-1")
    subject, body = compose("follow-up-reminder", "sv", case_key="K-1")
    assert subject == "Polku: dags för uppföljning, klientärende K-1" and "Öppna Polku" in body


def test_a_temporary_refusal_is_retried_after_the_back_off_and_delivered_once(db, clock, services, inbox) -> None:
    inbox.data_replies.append("451 4.3.0 Temporary local problem, try again later")
    message = queue(db, clock, "letter:1")

    assert send_due(services) == 0
    waiting = row(db, message)
    assert (waiting.status, waiting.attempts, waiting.locked_until) == (MessageStatus.QUEUED, 1, None)
    assert "451" in (waiting.last_error or "")
    assert waiting.next_attempt_at == clock.now + timedelta(minutes=1)

    assert send_due(services) == 0  # not due yet
    clock.advance(seconds=59)
    assert send_due(services) == 0 and inbox.messages == []
    clock.advance(seconds=1)
    assert send_due(services) == 1
    assert send_due(services) == 0
    clock.advance(hours=2)
    assert send_due(services) == 0
    assert len(inbox.messages) == 1
    sent = row(db, message)
    assert (sent.status, sent.attempts) == (MessageStatus.SENT, 2)


def test_back_off_doubles_up_to_an_hour_and_gives_up_after_the_last_attempt(db, clock, services, inbox) -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 8)] == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60)]
    inbox.data_replies.extend(["452 4.3.1 Insufficient system storage"] * MAX_ATTEMPTS)
    message = queue(db, clock, "letter:1")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert send_due(services) == 0
        assert row(db, message).attempts == attempt
        clock.advance(hours=1)
    failed = row(db, message)
    assert failed.status is MessageStatus.FAILED
    assert "452" in (failed.last_error or "") and f"after {MAX_ATTEMPTS} attempts" in (failed.last_error or "")
    assert send_due(services) == 0 and inbox.messages == []


def test_a_permanent_refusal_of_the_recipient_fails_the_message_with_the_reason(db, clock, services, inbox) -> None:
    inbox.refuse["gone@example.invalid"] = "550 5.1.1 Mailbox does not exist"
    refused = queue(db, clock, "letter:1", to="gone@example.invalid")
    fine = queue(db, clock, "letter:2", to="anna@example.invalid")

    assert send_due(services) == 1  # the refusal does not stop the rest of the batch

    failed = row(db, refused)
    assert failed.status is MessageStatus.FAILED and failed.attempts == 1
    assert "550" in (failed.last_error or "") and "Mailbox does not exist" in (failed.last_error or "")
    assert row(db, fine).status is MessageStatus.SENT
    clock.advance(hours=5)
    assert send_due(services) == 0
    assert [m["To"] for m in inbox.messages] == ["anna@example.invalid"]


def test_an_unreachable_server_keeps_every_message_queued_for_later(db, clock, services, inbox) -> None:
    closed = Services(db, clock, services.keys, MailSettings("127.0.0.1", free_port(), timeout_s=2))
    ids = [queue(db, clock, f"letter:{n}") for n in range(3)]

    assert send_due(closed) == 0

    for message in map(lambda i: row(db, i), ids):
        assert (message.status, message.attempts, message.locked_until) == (MessageStatus.QUEUED, 1, None)
        assert "cannot connect" in (message.last_error or "")
    clock.advance(minutes=1)
    assert send_due(services) == 3 and len(inbox.messages) == 3


def test_without_smtp_settings_nothing_is_sent_and_the_rows_wait(db, clock, services, inbox) -> None:
    message = queue(db, clock, "letter:1")
    no_mail = Services(db, clock, services.keys, None)

    assert send_due(no_mail) == 0
    mailer = Mailer(no_mail, interval_s=0.05)
    thread = start_mailer(mailer)
    time.sleep(0.2)
    mailer.stop()
    thread.join(WAIT)
    assert not thread.is_alive()

    waiting = row(db, message)
    assert (waiting.status, waiting.attempts, waiting.last_error) == (MessageStatus.QUEUED, 0, None)
    assert inbox.messages == []
    assert send_due(services) == 1  # once a server is configured, the waiting mail goes


def test_a_message_without_an_address_is_held_and_never_sent(db, clock, services, inbox) -> None:
    held = queue(db, clock, "letter:1", to=None)
    assert row(db, held).status is MessageStatus.HELD
    assert send_due(services) == 0 and inbox.messages == []


def test_a_claimed_message_is_left_alone_until_its_lease_runs_out(db, clock, services, inbox) -> None:
    from workers.mail import LEASE, _claim

    message = queue(db, clock, "letter:1")
    [claimed] = _claim(services, 10)  # a mailer that took the row and died before sending
    assert claimed.id == message

    assert send_due(services) == 0 and inbox.messages == []
    clock.advance(seconds=LEASE.total_seconds())
    assert send_due(services) == 1
    assert inbox.messages[0]["Message-ID"] == message_id("letter:1", MailSettings.sender)


def test_two_mailers_at_once_deliver_each_message_once(database_url, db, clock, services, inbox) -> None:
    inbox.delay_s = 0.01
    for n in range(30):
        queue(db, clock, f"letter:{n}", to=f"client{n}@example.invalid")
    second_db = Database(database_url)  # as a second process would: its own connections
    try:
        second = Services(second_db, clock, services.keys, services.mail)
        start = threading.Barrier(2)
        counts: list[int] = []

        def drain(svc: Services) -> None:
            start.wait()
            total = 0
            while sent := send_due(svc, limit=4):
                total += sent
            counts.append(total)

        threads = [threading.Thread(target=drain, args=(svc,)) for svc in (services, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert sum(counts) == 30

        # and the Mailer loops, both running, over a second lot
        for n in range(30, 50):
            queue(db, clock, f"letter:{n}", to=f"client{n}@example.invalid")
        mailers = [Mailer(svc, interval_s=0.02, batch=3) for svc in (services, second)]
        mailer_threads = [start_mailer(m) for m in mailers]
        try:
            wait_for(lambda: all(r.status is MessageStatus.SENT for r in rows(db)), "every message sent")
        finally:
            for m in mailers:
                m.stop()
            for t in mailer_threads:
                t.join(WAIT)
    finally:
        second_db.dispose()

    assert len(inbox.messages) == 50
    assert len({m["Message-ID"] for m in inbox.messages}) == 50
    assert sorted(m["To"] for m in inbox.messages) == sorted(f"client{n}@example.invalid" for n in range(50))
    assert all(r.attempts == 1 for r in rows(db))


# -- the staff-notification handler ------------------------------------------------------------------

CASE = process("notified_case", '<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
               + chain("start", "work", "end"))


@pytest.fixture
def staff(db: Database, clock: TestClock) -> None:
    with db.transaction() as s:
        add_user(s, "aino", "Aino Esimerkki", [Role.COORDINATOR], clock(), email="aino@example.invalid")
        add_user(s, "cecilia", "Cecilia Testinen", [Role.CASE_MANAGER], clock())  # no email
        add_user(s, "tiina", "Tiina Tiiminvetäjä", [Role.TEAM_LEAD], clock(), email="tiina@example.invalid")
        add_user(s, "tuomas", "Tuomas Tiiminvetäjä", [Role.TEAM_LEAD], clock(), email="tuomas@example.invalid")


@pytest.fixture
def start_case(engine: Engine) -> Callable[[str], str]:
    engine.deploy({"notified_case.bpmn": CASE})
    return lambda key: engine.start("notified_case", business_key=key,
                                    variables={"clientName": "Salainen Asiakas", "personalId": "010190-900P"})


def job(services: Services, case_id: str, variables: dict[str, Any], job_id: str = "job-1",
        business_key: str | None = "POLKU-2026-0042") -> JobContext:
    return JobContext(id=job_id, topic="staff-notification", case_id=case_id, business_key=business_key,
                      variables=variables, services=services)


def deactivate(db: Database, clock: TestClock, user_id: str) -> None:
    with db.transaction() as s:
        user = s.get(StaffUser, user_id)
        assert user is not None
        user.active, user.deactivated_at = False, clock()


def test_a_job_run_twice_gives_one_mail_naming_the_case_only(db, services, inbox, staff, start_case) -> None:
    case_id = start_case("POLKU-2026-0042")
    ctx = job(services, case_id, {"notificationType": "follow-up-reminder", "recipient": "aino"})

    assert staff_notification(ctx) is None
    assert staff_notification(ctx) is None  # retried, or a second worker after the lock expired
    [message] = rows(db)
    assert (message.key, message.recipient, message.case_id, message.language) == (
        "job:job-1", "staff:aino", case_id, "fi")

    assert send_due(services) == 1
    [mail] = inbox.messages
    assert mail["To"] == "aino@example.invalid"
    assert mail["Subject"] == "Polku: seuranta-arvio lähestyy, asiakkuus POLKU-2026-0042"
    body = text_of(mail)
    assert "Avaa Polku" in body and "POLKU-2026-0042" in body
    assert "Salainen" not in body + mail["Subject"] and "010190" not in body


def test_two_workers_running_one_job_at_once_give_one_mail(database_url, db, services, inbox, staff,
                                                           start_case) -> None:
    case_id = start_case("POLKU-2026-0042")
    second_db = Database(database_url)
    try:
        second = Services(second_db, services.clock, services.keys, services.mail)
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(svc: Services) -> None:
            start.wait()
            try:
                staff_notification(job(svc, case_id, {"notificationType": "service-start-overdue",
                                                      "recipient": "aino", "serviceId": "S1"}))
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=run, args=(svc,)) for svc in (services, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    finally:
        second_db.dispose()
    assert errors == []
    assert send_due(services) == 1 and len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "Polku: palvelun alkaminen on myöhässä, asiakkuus POLKU-2026-0042"


def test_a_new_referral_names_the_open_case_and_the_referral(db, services, inbox, staff, start_case) -> None:
    open_case = start_case("POLKU-2026-0001")
    referral = start_case("POLKU-2026-0042")
    staff_notification(job(services, referral, {"notificationType": "new-referral-for-open-case",
                                                "recipient": "aino", "relatedCaseId": open_case}))
    assert send_due(services) == 1
    [mail] = inbox.messages
    assert mail["Subject"] == "Polku: uusi lähete avoimeen asiakkuuteen POLKU-2026-0001"
    assert "(POLKU-2026-0042)" in text_of(mail)


@pytest.mark.parametrize("recipient", ["aino", "someone-who-left", None])
def test_a_deactivated_or_unknown_recipient_sends_it_to_every_team_lead(db, clock, services, inbox, staff,
                                                                        start_case, recipient) -> None:
    deactivate(db, clock, "aino")
    case_id = start_case("POLKU-2026-0042")
    ctx = job(services, case_id, {"notificationType": "service-start-overdue", "recipient": recipient})
    staff_notification(ctx)
    staff_notification(ctx)

    assert sorted(r.key for r in rows(db)) == ["job:job-1:tiina", "job:job-1:tuomas"]
    assert send_due(services) == 2
    assert sorted(m["To"] for m in inbox.messages) == ["tiina@example.invalid", "tuomas@example.invalid"]
    body = text_of(inbox.messages[0])
    assert "esihenkilönä" in body and "POLKU-2026-0042" in body
    assert not inbox.to("aino@example.invalid")


def test_a_recipient_without_email_gets_a_held_message(db, services, inbox, staff, start_case) -> None:
    case_id = start_case("POLKU-2026-0042")
    staff_notification(job(services, case_id, {"notificationType": "follow-up-reminder", "recipient": "cecilia"}))
    [message] = rows(db)
    assert (message.status, message.recipient, message.to_address) == (MessageStatus.HELD, "staff:cecilia", None)
    assert send_due(services) == 0 and inbox.messages == []


def test_nobody_to_tell_and_an_unknown_type_are_failures(db, clock, services, staff, start_case) -> None:
    case_id = start_case("POLKU-2026-0042")
    with pytest.raises(Failure, match="print-letter"):
        staff_notification(job(services, case_id, {"notificationType": "print-letter", "recipient": "aino"}))
    for lead in ("tiina", "tuomas"):
        deactivate(db, clock, lead)
    with pytest.raises(Failure, match="no active team lead") as failure:
        staff_notification(job(services, case_id, {"notificationType": "follow-up-reminder", "recipient": "nobody"}))
    assert "nobody" in failure.value.message
    assert rows(db) == []


# -- end to end: a process, the runner, the mailer ---------------------------------------------------

NOTIFYING = process("notifying", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="remind" name="Muistutus" camunda:type="external" camunda:topic="staff-notification">
  <bpmn:extensionElements><camunda:inputOutput>
    <camunda:inputParameter name="notificationType">follow-up-reminder</camunda:inputParameter>
    <camunda:inputParameter name="recipient">${caseManager}</camunda:inputParameter>
  </camunda:inputOutput></bpmn:extensionElements>
</bpmn:serviceTask>
<bpmn:userTask id="after" name="After"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "remind", "after", "end"))


def test_a_process_notifies_staff_through_the_runner_and_the_mailer(db, engine, services, inbox, staff) -> None:
    import workers.notifications  # noqa: F401 - registers the handler in the built-in registry

    engine.deploy({"notifying.bpmn": NOTIFYING})
    case_id = engine.start("notifying", business_key="POLKU-2026-0007", variables={"caseManager": "aino"})
    runner = Runner(engine, builtins.registry, worker_id="w1", topics=["staff-notification"], idle_max_s=0.1,
                    services=services)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: [t.element_id for t in engine.open_tasks(case_id)] == ["after"], "the case to move on")
    finally:
        runner.stop()
        thread.join(WAIT)
    assert not thread.is_alive()

    assert send_due(services) == 1
    [mail] = inbox.messages
    assert mail["To"] == "aino@example.invalid"
    assert mail["Subject"] == "Polku: seuranta-arvio lähestyy, asiakkuus POLKU-2026-0007"
    [message] = rows(db)
    assert message.case_id == case_id and message.status is MessageStatus.SENT


def test_the_embedded_default_runs_the_mailer_beside_the_runner(db, clock, engine, services, inbox, tmp_path) -> None:
    from polku.embedded import start_workers, stop_mailers
    from polku.settings import Settings

    queue(db, clock, "letter:1")
    settings = Settings("sqlite://", tmp_path, "127.0.0.1", 5000, "a-test-secret-of-32-characters!!",
                        mail=services.mail)
    runner = start_workers(engine, settings)
    try:
        wait_for(lambda: inbox.messages, "the embedded mailer to send")
    finally:
        stop_mailers()
        if runner is not None:
            runner.stop()
            assert runner.stopped.wait(WAIT)
    assert [r.status for r in rows(db)] == [MessageStatus.SENT]
