"""Polku's configuration, read once from the environment into one typed object."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.camunda.limits import Limits
from polku.private_files import private_dir, private_sqlite_file
from workers.services import MailSettings

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"  # the embedded default's database and secret key: owner-only (polku/private_files.py)
OVERVIEW_AUDIENCES = ("local", "all", "off")


@dataclass(frozen=True)
class Settings:
    database_url: str
    bpmn_dir: Path
    host: str
    port: int
    secret_key: str  # derives the identity code search and encryption keys
    handler_modules: tuple[str, ...] = ()  # extra job handler modules the workers import (POLKU_HANDLER_MODULES)
    mail: MailSettings | None = None  # POLKU_SMTP_*; without a host, mail waits in the outbox
    max_request_bytes: int = 1_048_576  # POLKU_MAX_REQUEST_BYTES: a larger request body is refused (413)
    max_variable_bytes: int = 102_400  # POLKU_MAX_VARIABLE_BYTES: one variable's value as JSON (else 400)
    base_url: str = ""  # POLKU_BASE_URL: links in responses start with it; default http://HOST:PORT
    show_overview: str = "local"  # POLKU_SHOW_OVERVIEW: who sees / (local: this machine only; all; off)
    hsts: bool = False  # POLKU_HSTS: send Strict-Transport-Security on every response (TLS ends at a proxy)
    inbox_full_names: bool = False  # POLKU_INBOX_FULL_NAMES: the inbox shows clients' full names, not initials
    sign_in_limit_account: int = 10  # POLKU_SIGN_IN_LIMIT_ACCOUNT: failed sign-ins per account in the window, then 429
    sign_in_limit_address: int = 50  # POLKU_SIGN_IN_LIMIT_ADDRESS: failed sign-ins per client address in the window
    sign_in_window_s: int = 900  # POLKU_SIGN_IN_WINDOW_S: seconds a failed sign-in counts against both
    session_idle_minutes: int = 30  # POLKU_SESSION_IDLE_MINUTES: a signed-in session ends after this long idle
    sign_in_rate_limit: str = "20 per minute"  # POLKU_SIGN_IN_RATE_LIMIT: sign-in form posts per address
    oidc: dict[str, Any] | None = field(default=None, repr=False)  # POLKU_OIDC_*: the identity provider (a secret)
    web_processes: int = 1  # POLKU_WEB_PROCESSES: gunicorn worker processes (1 with SQLite: see polku.web_server)
    web_threads: int = 8  # POLKU_WEB_THREADS: threads per web process
    staffing_check_minutes: int = 15  # POLKU_STAFFING_CHECK_MINUTES: how often staffing alarms become tasks
    summary_refresh_seconds: int = 60  # POLKU_SUMMARY_REFRESH_SECONDS: how often /manage's figures are recomputed
    inform_client_days: int = 3  # POLKU_INFORM_CLIENT_DAYS: a client not told of their case manager by then alarms
    letter_delivery_days: int = 7  # POLKU_LETTER_DELIVERY_DAYS: a letter not delivered by then is a case manager task
    self_referral_rate_limit: str = "5 per hour"  # POLKU_SELF_REFERRAL_RATE_LIMIT: public self-referrals per address
    self_referral_contact_days: int = 5  # POLKU_SELF_REFERRAL_CONTACT_DAYS: working days the receipt promises
    idle_case_days: int = 30  # POLKU_IDLE_CASE_DAYS: a case with no activity this long is a managers' alarm
    limits: Limits = Limits()  # POLKU_MAX_DIAGRAM_BYTES, POLKU_MAX_DIAGRAM_ELEMENTS, POLKU_SCRIPT_MEMORY_MB

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        url = env.get("POLKU_DATABASE_URL") or f"sqlite:///{VAR / 'polku.db'}"
        database = private_sqlite_file(url)
        if database is not None and database.parent == VAR:
            private_dir(VAR)
        host = env.get("POLKU_HOST", "127.0.0.1")
        port = _number(env, "POLKU_PORT", 5000)
        return cls(
            database_url=url,
            bpmn_dir=Path(env.get("POLKU_BPMN_DIR") or ROOT / "bpmn"),
            host=host,
            port=port,
            secret_key=env.get("POLKU_SECRET_KEY") or key_file_secret(
                Path(env.get("POLKU_SECRET_KEY_FILE") or VAR / "secret_key")),
            handler_modules=tuple(m.strip() for m in env.get("POLKU_HANDLER_MODULES", "").split(",") if m.strip()),
            mail=mail_settings(env),
            max_request_bytes=_number(env, "POLKU_MAX_REQUEST_BYTES", cls.max_request_bytes),
            max_variable_bytes=_number(env, "POLKU_MAX_VARIABLE_BYTES", cls.max_variable_bytes),
            base_url=_base_url(env.get("POLKU_BASE_URL") or f"http://{_url_host(host)}:{port}"),
            show_overview=_choice(env, "POLKU_SHOW_OVERVIEW", cls.show_overview, OVERVIEW_AUDIENCES),
            hsts=_flag(env, "POLKU_HSTS"),
            inbox_full_names=_flag(env, "POLKU_INBOX_FULL_NAMES"),
            sign_in_limit_account=_number(env, "POLKU_SIGN_IN_LIMIT_ACCOUNT", cls.sign_in_limit_account),
            sign_in_limit_address=_number(env, "POLKU_SIGN_IN_LIMIT_ADDRESS", cls.sign_in_limit_address),
            sign_in_window_s=_number(env, "POLKU_SIGN_IN_WINDOW_S", cls.sign_in_window_s),
            session_idle_minutes=_number(env, "POLKU_SESSION_IDLE_MINUTES", cls.session_idle_minutes),
            sign_in_rate_limit=_rate_limit(env, "POLKU_SIGN_IN_RATE_LIMIT", cls.sign_in_rate_limit),
            oidc=oidc_settings(env),
            web_processes=_number(env, "POLKU_WEB_PROCESSES", cls.web_processes),
            web_threads=_number(env, "POLKU_WEB_THREADS", cls.web_threads),
            staffing_check_minutes=_number(env, "POLKU_STAFFING_CHECK_MINUTES", cls.staffing_check_minutes),
            summary_refresh_seconds=_number(env, "POLKU_SUMMARY_REFRESH_SECONDS", cls.summary_refresh_seconds),
            inform_client_days=_number(env, "POLKU_INFORM_CLIENT_DAYS", cls.inform_client_days),
            letter_delivery_days=_number(env, "POLKU_LETTER_DELIVERY_DAYS", cls.letter_delivery_days),
            self_referral_rate_limit=_rate_limit(env, "POLKU_SELF_REFERRAL_RATE_LIMIT", cls.self_referral_rate_limit),
            self_referral_contact_days=_number(env, "POLKU_SELF_REFERRAL_CONTACT_DAYS", cls.self_referral_contact_days),
            idle_case_days=_number(env, "POLKU_IDLE_CASE_DAYS", cls.idle_case_days),
            limits=engine_limits(env),
        )

    def web_config(self) -> dict[str, Any]:
        """What the web app reads from its Flask config (webapp.create_app documents each key)."""
        return {"MAX_CONTENT_LENGTH": self.max_request_bytes, "MAX_VARIABLE_BYTES": self.max_variable_bytes,
                "BASE_URL": self.base_url, "SHOW_OVERVIEW": self.show_overview, "HSTS": self.hsts,
                "INBOX_FULL_NAMES": self.inbox_full_names, "SIGN_IN_LIMIT_ACCOUNT": self.sign_in_limit_account,
                "SIGN_IN_LIMIT_ADDRESS": self.sign_in_limit_address, "SIGN_IN_WINDOW_S": self.sign_in_window_s,
                "SESSION_IDLE_MINUTES": self.session_idle_minutes, "SECRET_KEY": self.session_key(),
                "SIGN_IN_RATE_LIMIT": self.sign_in_rate_limit, "OIDC": self.oidc,
                "SESSION_COOKIE_SECURE": self.base_url.startswith("https://"),
                "SELF_REFERRAL_RATE_LIMIT": self.self_referral_rate_limit,
                "SELF_REFERRAL_CONTACT_DAYS": self.self_referral_contact_days, "IDLE_CASE_DAYS": self.idle_case_days,
                "INFORM_CLIENT_DAYS": self.inform_client_days, "EVENT_LOG_KEY": self.event_log_key()}

    def event_log_key(self) -> bytes:
        """The key of the event log's case pseudonyms (casework.event_log), derived from the secret key under its own
        label: the same case has the same pseudonym in every export, and it cannot be linked back without the key."""
        from casework.event_log import pseudonym_key

        return pseudonym_key(self.secret_key)

    def session_key(self) -> str:
        """The key that signs session cookies and CSRF tokens, derived from the secret key under its own label."""
        return hmac.new(self.secret_key.encode(), b"polku web session v1", hashlib.sha256).hexdigest()


def engine_limits(env: dict[str, str]) -> Limits:
    """The engine's limits from the environment; `polku validate` reads only these (it needs no database or key)."""
    default = Limits()
    return Limits(diagram_bytes=_number(env, "POLKU_MAX_DIAGRAM_BYTES", default.diagram_bytes),
                  diagram_elements=_number(env, "POLKU_MAX_DIAGRAM_ELEMENTS", default.diagram_elements),
                  script_memory_mb=_number(env, "POLKU_SCRIPT_MEMORY_MB", default.script_memory_mb))


def _number(env: dict[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)


def _rate_limit(env: dict[str, str], name: str, default: str) -> str:
    """A Flask-Limiter limit such as `20 per minute` or `5/second`; refused at start when it cannot be read."""
    from limits import parse_many

    text = env.get(name, "").strip() or default
    try:
        parse_many(text)
    except ValueError:
        raise ValueError(f"{name} must be a rate such as '20 per minute', not {text!r}") from None
    return text


def oidc_settings(env: dict[str, str]) -> dict[str, Any] | None:
    """The identity provider from POLKU_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET (environment only, never in the
    repository), _NAME, _ROLES_CLAIM (groups), _SCOPES and _GROUP_MAP (JSON: claim value -> roles and team)."""
    issuer = env.get("POLKU_OIDC_ISSUER", "").strip()
    if not issuer:
        return None
    client_id = env.get("POLKU_OIDC_CLIENT_ID", "").strip()
    secret = env.get("POLKU_OIDC_CLIENT_SECRET", "")
    if not client_id or not secret:
        raise ValueError("POLKU_OIDC_ISSUER needs POLKU_OIDC_CLIENT_ID and POLKU_OIDC_CLIENT_SECRET as well")
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"POLKU_OIDC_ISSUER must be the provider's https URL, not {issuer!r}")
    try:
        group_map = json.loads(env.get("POLKU_OIDC_GROUP_MAP", "").strip() or "{}")
    except ValueError:
        raise ValueError("POLKU_OIDC_GROUP_MAP must be JSON such as "
                         '{"polku-coordinators": {"roles": ["coordinator"], "team": "turku"}}') from None
    if not isinstance(group_map, dict) or not group_map:
        raise ValueError("POLKU_OIDC_GROUP_MAP must map at least one claim value to Polku roles: without it "
                         "nobody could sign in through the provider")
    from casework.users import Role

    known = {r.value for r in Role}
    for claim, grant in group_map.items():
        roles = grant.get("roles") if isinstance(grant, dict) else None
        if not isinstance(roles, list) or not roles or not set(roles) <= known:
            raise ValueError(f"POLKU_OIDC_GROUP_MAP[{claim!r}] must have 'roles', a list of {', '.join(sorted(known))}")
    return {"issuer": issuer, "client_id": client_id, "client_secret": secret,
            "name": env.get("POLKU_OIDC_NAME", "").strip() or parts.hostname,
            "roles_claim": env.get("POLKU_OIDC_ROLES_CLAIM", "").strip() or "groups",
            "scopes": env.get("POLKU_OIDC_SCOPES", "").strip() or "openid profile email",
            "group_map": group_map}


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _choice(env: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "localhost"  # listening everywhere: no one name is right; set POLKU_BASE_URL
    return f"[{host}]" if ":" in host else host


def _base_url(url: str) -> str:
    """The public URL of Polku's root, e.g. https://polku.example.fi or https://example.fi/polku."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"POLKU_BASE_URL must be an http(s) URL such as https://polku.example.fi, not {url!r}")
    return url.strip().rstrip("/")


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
    if not path.parent.exists() or path.parent == VAR:
        private_dir(path.parent)
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
