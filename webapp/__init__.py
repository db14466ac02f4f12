"""The web app (Flask application factory); blueprints per area arrive with the web issues."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.redaction import describe

log = logging.getLogger("polku.webapp")

# Defaults of the settings the app reads (polku.settings.Settings.web_config passes the configured ones)
DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 1_048_576,  # bytes of a request body; more is 413 (POLKU_MAX_REQUEST_BYTES)
    "MAX_VARIABLE_BYTES": 102_400,  # bytes of one variable's value as JSON; more is 400 (POLKU_MAX_VARIABLE_BYTES)
    "BASE_URL": "",  # public URL of Polku's root for links in responses; empty: relative links (POLKU_BASE_URL)
    "SHOW_OVERVIEW": "local",  # who sees the overview at /: local, all or off (POLKU_SHOW_OVERVIEW)
    "HSTS": False,  # Strict-Transport-Security on every response, not only on HTTPS requests (POLKU_HSTS)
    "SIGN_IN_LIMIT_ACCOUNT": 10,  # failed sign-ins per account in the window, then 429 (POLKU_SIGN_IN_LIMIT_ACCOUNT)
    "SIGN_IN_LIMIT_ADDRESS": 50,  # failed sign-ins per client address in the window (POLKU_SIGN_IN_LIMIT_ADDRESS)
    "SIGN_IN_WINDOW_S": 900,  # seconds a failed sign-in counts (POLKU_SIGN_IN_WINDOW_S)
    "IDENTITY_CODE_KEYS": None,  # casework IdentityCodeKeys (POLKU_SECRET_KEY): without, a referral's code is refused
    "SIGN_IN_RATE_LIMIT": "20 per minute",  # posts of the sign-in form per address (POLKU_SIGN_IN_RATE_LIMIT)
    "INBOX_FULL_NAMES": False,  # the inbox shows clients' full names, not initials (POLKU_INBOX_FULL_NAMES)
    "OIDC": None,  # the identity provider (webapp.auth.oidc.OidcConfig fields; POLKU_OIDC_*); None: passwords only
    "SESSION_IDLE_MINUTES": 30,  # a session ends after this long without a request (POLKU_SESSION_IDLE_MINUTES)
    "SESSION_COOKIE_NAME": "polku_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # True when served over TLS (POLKU_BASE_URL starting https://)
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,  # the cookie's own lifetime; the idle limit ends a session sooner
    "BABEL_DEFAULT_TIMEZONE": "Europe/Helsinki",  # times on pages as Finnish staff read them (stored in UTC)
    "SELF_REFERRAL_RATE_LIMIT": "5 per hour",  # public self-referral posts per address (POLKU_SELF_REFERRAL_RATE_LIMIT)
    "SELF_REFERRAL_MIN_SECONDS": 3,  # a self-referral sent faster than this after the form opened is a bot's
    "SELF_REFERRAL_MAX_SECONDS": 7200,  # a self-referral form older than this is shown again to be sent anew
    "SELF_REFERRAL_CONTACT_DAYS": 5,  # working days the receipt promises a coordinator's contact within
    "IDLE_CASE_DAYS": 30,  # a case with no activity this long is a managers' alarm (POLKU_IDLE_CASE_DAYS)
    "INFORM_CLIENT_DAYS": 3,  # a client not told of their case manager by then is an alarm (POLKU_INFORM_CLIENT_DAYS)
    "EVENT_LOG_KEY": None,  # bytes: the key of the event log's case pseudonyms (derived from POLKU_SECRET_KEY)
    "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session (a long form must not expire mid-way)
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config["ENGINE"]` is the engine.runtime.Engine it serves, the rest as in DEFAULTS."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        import secrets

        app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions end with the process; POLKU_SECRET_KEY keeps them
    from flask_wtf.csrf import CSRFProtect

    from webapp import (
        api,
        auth,
        cases,
        engine_rest,
        home,
        i18n,
        inbox,
        letters,
        manage,
        overview,
        partners,
        referrals,
        security_headers,
        sign_in_throttle,
        tasks,
    )
    from webapp.auth import api as api_auth

    security_headers.init_app(app)
    sign_in_throttle.init_app(app)
    i18n.init_app(app)
    csrf = CSRFProtect(app)
    csrf.exempt(engine_rest.bp)  # machines authenticate every call there (Basic or bearer); no cookie, no CSRF
    app.register_error_handler(Exception, _unexpected)
    home.init_app(app)
    auth.init_app(app)  # the blueprint, its rate limit and the OIDC client
    app.register_blueprint(overview.bp)
    app.register_blueprint(engine_rest.bp)
    app.register_blueprint(api.bp)  # /api/openapi.json describes /engine-rest and /api
    app.register_blueprint(tasks.bp)
    app.register_blueprint(inbox.bp)
    for area in (cases, partners, letters, manage):
        app.register_blueprint(area.bp)
        app.register_blueprint(area.api)
    app.register_blueprint(referrals.bp)
    api_auth.init_app(app, csrf)  # JSON routes under /api check CSRF themselves (session callers only)
    return app


def _unexpected(err: Exception) -> Any:
    """Outside /engine-rest (which answers in Camunda's shape): a bare 500; the log names no data."""
    if isinstance(err, HTTPException):
        return err
    from flask import request

    reference = uuid.uuid4().hex[:12]
    log.error("%s %s failed (reference %s)\n%s", request.method, request.path, reference, describe(err))
    return InternalServerError(f"The request could not be completed (reference {reference}).")
