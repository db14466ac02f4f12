"""What Polku's own handlers need beyond the job itself: the database, the clock, the keys, the mail server.

The runner hands one `Services` to every job it runs (`ctx.services`); handlers written elsewhere, for
other topics, may ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from casework.identity_code import IdentityCodeKeys

if TYPE_CHECKING:
    from engine.db import Database
    from engine.runtime import Engine


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server the outbox sends through; without one, mail waits in the outbox (status held)."""

    host: str
    port: int = 25
    sender: str = "Polku <polku@localhost>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Services:
    db: Database
    clock: Callable[[], datetime]
    keys: IdentityCodeKeys
    mail: MailSettings | None = None
    engine: Engine | None = None  # for handlers that act on tasks (reassigning a changed case manager's tasks)
    base_url: str = ""  # POLKU_BASE_URL: links in mail to partners start with it

    @classmethod
    def of(cls, engine: Engine, secret_key: str, mail: MailSettings | None = None, base_url: str = "") -> Services:
        """The services of the engine's database and clock (so tests' clocks reach the handlers too)."""
        return cls(engine.db, engine.clock, IdentityCodeKeys(secret_key), mail, engine, base_url)
