"""Polku's configuration, read once from the environment into one typed object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from workers.services import MailSettings

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str
    bpmn_dir: Path
    host: str
    port: int
    secret_key: str  # derives the identity code search and encryption keys
    handler_modules: tuple[str, ...] = ()  # extra job handler modules the workers import (POLKU_HANDLER_MODULES)
    mail: MailSettings | None = None  # POLKU_SMTP_*; without a host, mail waits in the outbox


    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        default_db = ROOT / "var" / "polku.db"
        url = env.get("POLKU_DATABASE_URL") or f"sqlite:///{default_db}"
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return cls(
            database_url=url,
            bpmn_dir=Path(env.get("POLKU_BPMN_DIR") or ROOT / "bpmn"),
            host=env.get("POLKU_HOST", "127.0.0.1"),
            port=int(env.get("POLKU_PORT", "5000")),
            secret_key=env.get("POLKU_SECRET_KEY") or key_file_secret(
                Path(env.get("POLKU_SECRET_KEY_FILE") or ROOT / "var" / "secret_key")),
            handler_modules=tuple(m.strip() for m in env.get("POLKU_HANDLER_MODULES", "").split(",") if m.strip()),
            mail=mail_settings(env),
        )


def mail_settings(env: dict[str, str]) -> MailSettings | None:
    """SMTP from POLKU_SMTP_HOST, _PORT, _USER, _PASSWORD, _STARTTLS and POLKU_MAIL_FROM; None without a host."""
    host = env.get("POLKU_SMTP_HOST", "").strip()
    if not host:
        return None
    return MailSettings(host=host, port=int(env.get("POLKU_SMTP_PORT", "25")),
                        sender=env.get("POLKU_MAIL_FROM") or MailSettings.sender,
                        username=env.get("POLKU_SMTP_USER") or None, password=env.get("POLKU_SMTP_PASSWORD") or None,
                        starttls=env.get("POLKU_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"))


def key_file_secret(path: Path) -> str:
    """The embedded default's secret: created once at random under var/ (never committed), then reused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if not secret:
            raise RuntimeError(f"secret key file {path} is empty; delete it or set POLKU_SECRET_KEY") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
