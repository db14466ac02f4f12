"""The sign-in page for local accounts and the county's identity provider (OIDC), and sign-out.

Passwords are checked with argon2 outside any database transaction, counted by the app's sign-in
throttle (the same counts as HTTP Basic on /engine-rest), and a wrong user id and a wrong password
get the same answer. On top of that, Flask-Limiter caps how often one address may post the form at all
(SIGN_IN_RATE_LIMIT), failed or not: a cheap first fence before any account is looked up.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client import OAuthError
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from requests import RequestException
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from casework.sign_in_limits import TooManyFailures
from casework.users import StaffUser, password_matches
from webapp.auth import oidc
from webapp.auth.session import IDLE_NOTICE, current_staff, sign_in, sign_out
from webapp.sign_in_throttle import limited

bp = Blueprint("auth", __name__, template_folder="templates")
LIMITER = "polku.sign_in_rate"
NEXT = "sign_in_next"  # where to go after an OIDC sign-in (a path on this site, checked again on return)


def init_app(app: Flask) -> None:
    """The blueprint, its per-address rate limit (in memory, per process) and the OIDC client when configured."""
    app.register_blueprint(bp)
    app.extensions[LIMITER] = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[],
                                      key_prefix="sign-in")
    oidc.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)


class SignInForm(FlaskForm):
    user_id = StringField(_l("User name"), validators=[DataRequired(_l("Enter your user name.")), Length(max=200)],
                          render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1000)],
                             render_kw={"autocomplete": "current-password"})


def safe_next(target: str | None) -> str:
    """Only a path on this site (never `//other.example` or a full URL): an open redirect would help phishing."""
    # browsers drop tabs and newlines from URLs ("/\t/evil.example" is "//evil.example") and read "\\" as "/"
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return target
    return url_for("home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET" and current_staff() is not None:
        return redirect(safe_next(request.args.get("next")))
    if request.method == "POST":
        with current_app.extensions[LIMITER].limit(str(current_app.config["SIGN_IN_RATE_LIMIT"])):
            pass  # raises RateLimitExceeded (429) once this address has posted too often
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user_id = (form.user_id.data or "").strip()
        try:
            ok = limited(user_id, lambda: _check_password(user_id, form.password.data or ""))
        except TooManyFailures as err:
            form.form_errors.append(_("Too many failed sign-ins. Try again in %(minutes)d minutes.",
                                      minutes=max(1, -(-err.retry_after_s // 60))))
            status = 429
        else:
            if ok:
                sign_in(user_id)
                return redirect(safe_next(request.args.get("next")))
            form.form_errors.append(_("The user name or password is wrong."))
            status = 401
    elif form.is_submitted():
        status = 400
    return _page(form, status)


def _page(form: SignInForm, status: int) -> Any:
    """The sign-in page; says once that the last session ended for idleness."""
    idle = session.pop(IDLE_NOTICE, None)
    config = oidc.configured()
    return render_template("auth/login.html", form=form, title=_("Sign in"), idle_minutes=idle,
                           provider_name=config.name if config else None,
                           next=request.args.get("next")), status


def _too_many(err: RateLimitExceeded) -> Any:
    """The limiter's 429 as a page a person understands (the form again, with when to try)."""
    form = SignInForm(formdata=None)
    form.form_errors.append(_("Too many sign-in attempts from this address. Wait a minute and try again."))
    response = current_app.make_response(_page(form, 429))
    response.headers["Retry-After"] = "60"
    return response


def _check_password(user_id: str, password: str) -> bool | None:
    with current_app.config["ENGINE"].db.read() as db:
        user = db.get(StaffUser, user_id)
        stored = user.password_hash if user is not None and user.active else None
    return True if password_matches(stored, password) else None


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    sign_out()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


# -- OpenID Connect -------------------------------------------------------------------------------
@bp.route("/login/oidc")
def oidc_start() -> Any:
    """Off to the county's identity provider (state, nonce and a PKCE verifier kept in the session)."""
    if oidc.configured() is None:
        return redirect(url_for("auth.login"))
    session[NEXT] = safe_next(request.args.get("next"))
    try:
        return oidc.client().authorize_redirect(oidc.callback_url())
    except (RequestException, OAuthError, ValueError):
        current_app.logger.warning("the identity provider's configuration could not be read")
        return _refused("unreachable", 502)


@bp.route("/login/oidc/callback")
def oidc_callback() -> Any:
    """Back from the provider: check state, nonce and the ID token, then create or refresh the account."""
    config = oidc.configured()
    if config is None:
        return redirect(url_for("auth.login"))
    try:
        token = oidc.client().authorize_access_token()
        claims = oidc.claims_of(token)
    except OAuthError as err:
        current_app.logger.info("OIDC sign-in failed: %s", err.error)
        return _refused("failed", 400)
    except RequestException:
        current_app.logger.warning("the identity provider did not answer the token or userinfo request")
        return _refused("unreachable", 502)
    engine = current_app.config["ENGINE"]
    try:
        with engine.db.transaction() as db:
            user_id = oidc.account_from(db, config, claims, engine.clock())
    except oidc.Refusal as refusal:
        return _refused(refusal.reason, 403)
    if user_id is None:
        return _refused(oidc.Refusal.NO_ROLE, 403)
    target = safe_next(session.get(NEXT))
    sign_in(user_id)
    return redirect(target)


def _refused(reason: str, status: int) -> Any:
    config = oidc.configured()
    provider = config.name if config else ""
    messages = {
        oidc.Refusal.NO_ROLE: _("You signed in at %(provider)s, but your account there has no role in Polku. "
                                "Ask your team lead or the administrator to add you to a Polku group.",
                                provider=provider),
        oidc.Refusal.DEACTIVATED: _("Your Polku account has been deactivated. Ask the administrator."),
        oidc.Refusal.LOCAL_ACCOUNT: _("This user name belongs to a Polku account with a password. Sign in with "
                                      "the password, or ask the administrator to link the account."),
        oidc.Refusal.NO_USER_NAME: _("%(provider)s did not tell Polku your user name. Ask the administrator.",
                                     provider=provider),
        "failed": _("The sign-in at %(provider)s could not be completed. Try again.", provider=provider),
        "unreachable": _("%(provider)s cannot be reached just now. Try again in a moment, or sign in with "
                         "a password.", provider=provider),
    }
    session.pop(NEXT, None)
    return render_template("auth/refused.html", message=messages.get(reason, messages["failed"]),
                           title=_("Sign-in refused")), status
