"""The sign-in page for local accounts, and sign-out.

Passwords are checked with argon2 outside any database transaction, counted by the app's sign-in
throttle (the same counts as HTTP Basic on /engine-rest), and a wrong user id and a wrong password
get the same answer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from casework.sign_in_limits import TooManyFailures
from casework.users import StaffUser, password_matches
from webapp.auth.session import current_staff, sign_in, sign_out
from webapp.sign_in_throttle import limited

bp = Blueprint("auth", __name__, template_folder="templates")


class SignInForm(FlaskForm):
    user_id = StringField(_l("User name"), validators=[DataRequired(_l("Enter your user name.")), Length(max=200)],
                          render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1000)],
                             render_kw={"autocomplete": "current-password"})


def safe_next(target: str | None) -> str:
    """Only a path on this site (never `//other.example` or a full URL): an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET" and current_staff() is not None:
        return redirect(safe_next(request.args.get("next")))
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
    return render_template("auth/login.html", form=form, title=_("Sign in")), status


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
