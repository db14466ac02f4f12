"""The mailer: sends the outbox's queued messages over SMTP, retries with back-off, marks each row once.

A row is claimed with a short lease (locked_until) in its own transaction before anything is sent, by the job
queue's claim (engine/claim.py), so a second mailer skips it; it is marked sent or failed (backing off by the
jobs' RetryStrategy) in a new transaction after the SMTP conversation, so no database lock is held while
waiting for the mail server. If the process dies between sending and marking,
the lease runs out and the message is sent again with the same Message-ID, which lets mail systems and
readers recognise the duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import or_, select

from casework.notification import MessageStatus, OutboxAttachment, OutboxMessage
from engine.claim import Claim, Order, claim
from engine.retry import RetryStrategy
from workers.loop import Loop
from workers.services import MailSettings, Services

log = logging.getLogger("polku.mail")

LEASE = timedelta(minutes=5)  # well past one SMTP conversation (MailSettings.timeout_s per command)
# 1+2+4+...+60 minutes: about four hours of trying before staff see it failed
RETRY = RetryStrategy(retries=8, base=timedelta(minutes=1), factor=2, max_delay=timedelta(hours=1))
MAX_ATTEMPTS = RETRY.retries


@dataclass(frozen=True)
class _Claimed:
    """What sending needs of a claimed row, read in the claiming transaction."""

    id: int
    key: str
    to_address: str
    subject: str
    body: str
    attempts: int
    attachments: tuple[tuple[str, str, bytes], ...]  # filename, content type, content


class _Temporary(Exception):
    """Try again later (4xx, connection refused or lost, time-out)."""


class _Permanent(Exception):
    """Never try again (5xx refusal of the recipient or of the message, an unusable address)."""


class _Unreachable(_Temporary):
    """The server could not be reached at all: every message still waiting in the batch is retried later."""


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed attempt: 1 min doubling, capped at 1 h (the jobs' strategy)."""
    return RETRY.delay(attempts - 1)


def message_id(key: str, sender: str) -> str:
    """A Message-ID derived from the outbox key, the same on every resend of one message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "polku.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.polku@{domain}>"


def build_message(claimed: _Claimed, settings: MailSettings, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = claimed.to_address
    msg["Subject"] = claimed.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(claimed.key, settings.sender)
    msg.set_content(claimed.body)
    for filename, content_type, content in claimed.attachments:
        maintype, subtype, params = _content_type(content_type, content)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename, params=params)
    return msg


def _content_type(content_type: str, content: bytes) -> tuple[str, str, dict[str, str]]:
    """Type, subtype and parameters; text without a charset is declared UTF-8 when it decodes as such."""
    kind, *rest = content_type.split(";")
    maintype, _, subtype = kind.strip().lower().partition("/")
    if not maintype or not subtype:
        return "application", "octet-stream", {}
    params = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in rest) if k.strip()}
    if maintype == "text" and "charset" not in params:
        try:
            content.decode("utf-8")
            params["charset"] = "utf-8"
        except UnicodeDecodeError:
            pass
    return maintype, subtype, params


def send_due(services: Services, limit: int = 50) -> int:
    """Send up to `limit` due messages; returns how many were sent. Without mail settings nothing is sent."""
    settings = services.mail
    if settings is None:
        return 0
    claimed = _claim(services, limit)
    if not claimed:
        return 0
    sent = 0
    with _Connection(settings) as connection:
        for index, message in enumerate(claimed):
            try:
                msg = build_message(message, settings, services.clock())
            except (ValueError, TypeError, UnicodeError) as err:
                _record_failure(services, message, _Permanent(f"cannot build the message: {err}"))
                continue
            try:
                connection.send(msg, message.to_address)
            except _Unreachable as err:
                for waiting in claimed[index:]:
                    _record_failure(services, waiting, err)
                break
            except (_Temporary, _Permanent) as err:
                _record_failure(services, message, err)
                continue
            _record_sent(services, message)
            sent += 1
    return sent


def _claim(services: Services, limit: int) -> list[_Claimed]:
    """Lease due rows in one transaction with the job queue's claim (one SKIP LOCKED statement on PostgreSQL)."""
    now = services.clock()
    with services.db.transaction() as s:
        rows = [r[0] for r in claim(s, _due(now), limit, {"locked_until": now + LEASE})]
        attachments: dict[int, list[tuple[str, str, bytes]]] = {row.id: [] for row in rows}
        if rows:
            for a in s.scalars(select(OutboxAttachment).where(OutboxAttachment.message_id.in_(list(attachments)))
                               .order_by(OutboxAttachment.id)):
                attachments[a.message_id].append((a.filename, a.content_type, a.content))
        return [_Claimed(row.id, row.key, row.to_address or "", row.subject, row.body, row.attempts,
                         tuple(attachments[row.id])) for row in rows]


_OLDEST_DUE_FIRST = (Order(OutboxMessage.next_attempt_at), Order(OutboxMessage.id))


def _due(now: datetime) -> Claim:
    """Queued messages with an address, due, and not leased to a mailer (or its lease ran out)."""
    return Claim(OutboxMessage, (OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.next_attempt_at <= now,
                                 OutboxMessage.to_address.is_not(None),
                                 or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now)),
                 _OLDEST_DUE_FIRST)


def _record_sent(services: Services, message: _Claimed) -> None:
    try:
        with services.db.transaction() as s:
            row = s.get(OutboxMessage, message.id)
            if row is None or row.status is not MessageStatus.QUEUED:
                return
            row.status = MessageStatus.SENT
            row.sent_at = services.clock()
            row.attempts = message.attempts + 1
            row.locked_until = None
            row.last_error = None
    except Exception:  # noqa: BLE001 - the lease runs out and the message goes again, with the same Message-ID
        log.exception("outbox message %s was sent but could not be marked sent", message.id)


def _record_failure(services: Services, message: _Claimed, err: Exception) -> None:
    """Count the attempt and release the lease; back off as the jobs do, or give up (5xx, attempts used up)."""
    now = services.clock()
    attempts = message.attempts + 1
    decision = RETRY.decide(now, MAX_ATTEMPTS - message.attempts, 0 if isinstance(err, _Permanent) else None, None)
    give_up = decision.retries_left == 0
    reason = str(err) if not give_up or isinstance(err, _Permanent) else f"{err} (gave up after {attempts} attempts)"
    try:
        with services.db.transaction() as s:
            row = s.get(OutboxMessage, message.id)
            if row is None or row.status is not MessageStatus.QUEUED:
                return
            row.attempts = attempts
            row.last_error = reason[:4000]
            row.locked_until = None
            if give_up:
                row.status = MessageStatus.FAILED
            else:
                row.next_attempt_at = decision.at or now
    except Exception:  # noqa: BLE001 - the lease runs out and the message is tried again
        log.exception("outbox message %s: recording the failure failed", message.id)
        return
    if give_up:
        log.error("outbox message %s failed for good: %s", message.id, reason)
    else:
        log.warning("outbox message %s: attempt %d failed, retrying later: %s", message.id, attempts, reason)


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()


class _Connection:
    """One SMTP session for a batch, opened on the first message and again after the server dropped it."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except OSError:
                self.smtp.close()
            self.smtp = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        except OSError as err:  # refused, unknown host, time-out, or an SMTPException (a 4xx/5xx greeting)
            raise _Unreachable(f"cannot connect to {s.host}:{s.port}: {_describe(err)}") from err
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except OSError as err:
            smtp.close()
            raise _Unreachable(f"{s.host}:{s.port}: {_describe(err)}") from err
        return smtp

    def send(self, msg: EmailMessage, to_address: str) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(msg, to_addrs=[to_address])
        except smtplib.SMTPRecipientsRefused as err:
            self._reset()
            code, text = next(iter(err.recipients.values()))
            raise (_Permanent if code >= 500 else _Temporary)(f"recipient refused: {_reply(code, text)}") from err
        except smtplib.SMTPDataError as err:
            self._reset()
            raise (_Permanent if err.smtp_code >= 500 else _Temporary)(
                f"message refused: {_reply(err.smtp_code, err.smtp_error)}") from err
        except smtplib.SMTPSenderRefused as err:  # the sender address is configuration: retry, staff fix it
            self._reset()
            raise _Temporary(f"sender refused: {_reply(err.smtp_code, err.smtp_error)}") from err
        except OSError as err:  # SMTPException is an OSError too: disconnects, other replies, resets, time-outs
            self._drop()
            raise _Temporary(_describe(err)) from err

    def _reset(self) -> None:
        """After a refusal, RSET so the next message starts a clean transaction (or reconnect if that fails)."""
        if self.smtp is None:
            return
        try:
            self.smtp.rset()
        except OSError:
            self._drop()

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return _reply(err.smtp_code, err.smtp_error)
    if isinstance(err, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


class Mailer(Loop):
    """Calls send_due every few seconds until stop(); wake() makes it look at the outbox at once."""

    def __init__(self, services: Services, interval_s: float = 5.0, batch: int = 50) -> None:
        if interval_s <= 0 or batch < 1:
            raise ValueError("interval_s must be > 0 and batch >= 1")
        self.services = services
        self.interval_s = interval_s
        self.batch = batch
        super().__init__()

    def run(self) -> None:
        """The loop; a full batch is followed at once by the next, an error waits for the next poll."""
        mail = self.services.mail
        log.info("mailer running: %s", f"SMTP {mail.host}:{mail.port}" if mail
                 else "no SMTP server configured, mail waits in the outbox")
        try:
            while not self._stopping.is_set():
                try:
                    sent = send_due(self.services, self.batch)
                except Exception:  # noqa: BLE001 - a database hiccup must not end the mailer
                    log.exception("sending the outbox failed")
                    sent = 0
                if sent >= self.batch:
                    continue
                self._sleep(self.interval_s)
        finally:
            self.stopped.set()
            log.info("mailer stopped")


def start_background(mailer: Mailer) -> threading.Thread:
    """Run `mailer` on a daemon thread (`polku serve`, `polku worker`); stop it with mailer.stop()."""
    thread = threading.Thread(target=mailer.run, name="polku-mailer", daemon=True)
    thread.start()
    return thread
