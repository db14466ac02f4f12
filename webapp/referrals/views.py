"""The staff referral form (`/referrals/new`) and the public self-referral (`/referral`); casework does the work.

The self-referral needs no sign-in, so it keeps out machines without a third-party service: a per-address rate
limit (the sign-in page's Flask-Limiter), a honeypot field, a signed time the form was handed out (sent too
fast: a bot; too late: the person is asked to send again) and the CSRF token every form carries. Whatever
happens to a well-formed request (received, the person already a client, a bot caught) the answer is the same
receipt, so nothing can be learned about who is a client.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from casework.errors import CaseworkError
from casework.referral_intake import ReferralProblems, ReferredBy, check, receive
from casework.users import Role
from webapp.auth.session import require_staff, roles_required
from webapp.auth.views import LIMITER
from webapp.home import add_navigation
from webapp.referrals import bp
from webapp.referrals.forms import SelfReferralForm, StaffReferralForm, show_problems

STAFF_ROLES = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD)
SENT = "referrals_sent"  # session: the case numbers this person's referrals got, and whether they went to an open case
KEEP_SENT = 10
# Settings (app config) and their defaults
RATE_LIMIT = "5 per hour"  # SELF_REFERRAL_RATE_LIMIT: self-referrals posted per client address
MIN_SECONDS = 3  # SELF_REFERRAL_MIN_SECONDS: sent sooner after the form was handed out: a bot
MAX_SECONDS = 2 * 3600  # SELF_REFERRAL_MAX_SECONDS: sent later: expired, the person is asked to send again
CONTACT_DAYS = 5  # SELF_REFERRAL_CONTACT_DAYS: working days within which a coordinator contacts the person
SALT = "polku self-referral form"

add_navigation("referrals.new", _l("New referral"), *STAFF_ROLES)


def _setting(name: str, default: Any) -> Any:
    value = current_app.config.get(name)
    return default if value is None else value


def _engine() -> Any:
    return current_app.config["ENGINE"]


# -- the staff referral --------------------------------------------------------------------------------------
@bp.route("/referrals/new", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def new() -> Any:
    """The referral form; on success the case starts and the person sees its number (or where it went)."""
    staff = require_staff()
    form = StaffReferralForm()
    if not form.is_submitted():
        return _staff_page(form, 200)
    referral = form.referral()
    problems = check(referral)
    if problems:
        show_problems(form, problems, self_referral=False)
        return _staff_page(form, 400)
    keys = current_app.config.get("IDENTITY_CODE_KEYS")
    if keys is None:
        form.form_errors.append(_("Polku cannot receive referrals: the server has no secret key. Tell the "
                                  "administrator."))
        return _staff_page(form, 503)
    try:
        intake = receive(_engine(), keys, referral, ReferredBy(staff.id, staff.logged_role(), "staff referral form"))
    except ReferralProblems as err:
        show_problems(form, err.problems, self_referral=False)
        return _staff_page(form, 400)
    except CaseworkError:
        current_app.logger.warning("a staff referral could not be received")
        form.form_errors.append(_("The referral could not be received. Check the details and send it again."))
        return _staff_page(form, 400)
    sent = [entry for entry in session.get(SENT, []) if entry[0] != intake.business_key]
    session[SENT] = [*sent, [intake.business_key, intake.to_open_case]][-KEEP_SENT:]
    return redirect(url_for("referrals.sent", business_key=intake.business_key))


def _staff_page(form: StaffReferralForm, status: int) -> Any:
    return render_template("referrals/new.html", form=form, title=_("New referral")), status


@bp.route("/referrals/sent/<business_key>")
@roles_required(*STAFF_ROLES)
def sent(business_key: str) -> Any:
    """What became of a referral this person just sent: its case number, or that it went to an open case.

    Only the referrals sent in this session: the page says nothing of a case the person may not see."""
    entries = {str(key): bool(to_open) for key, to_open in session.get(SENT, [])}
    if business_key not in entries:
        abort(404)
    return render_template("referrals/sent.html", business_key=business_key, to_open_case=entries[business_key],
                           title=_("Referral sent"))


# -- the self-referral ------------------------------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _started_token() -> str:
    return str(_serializer().dumps(_engine().clock().timestamp()))


def _elapsed(token: str | None) -> float | None:
    """Seconds since the form was handed out, or None when the token is missing or not ours."""
    if not token:
        return None
    try:
        started = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(started, int | float) or isinstance(started, bool):
        return None
    return float(_engine().clock().timestamp() - started)


@bp.route("/referral", methods=["GET", "POST"])
def self_referral() -> Any:
    """The public form: no sign-in, rate-limited per address; the same receipt for every well-formed request."""
    if request.method == "POST":
        try:
            with current_app.extensions[LIMITER].limit(str(_setting("SELF_REFERRAL_RATE_LIMIT", RATE_LIMIT)),
                                                      scope="self-referral"):
                pass
        except RateLimitExceeded:
            return _too_many()
    form = SelfReferralForm()
    if not form.is_submitted():
        form.language.data = str(get_locale() or "fi")  # the language of service follows the page's
        return _self_page(form, 200)
    if (form.website.data or "").strip():
        return _receipt_redirect()  # the honeypot: only a machine fills in a field nobody sees
    elapsed = _elapsed(form.started.data)
    if elapsed is None:
        return _receipt_redirect()  # no start time of ours: not our form
    if elapsed > float(_setting("SELF_REFERRAL_MAX_SECONDS", MAX_SECONDS)):
        form.form_errors.append(_("The form was open for a long time, so it was not sent. Check your answers "
                                  "and send it again."))
        return _self_page(form, 400)
    referral = form.referral()
    problems = check(referral)
    if problems:  # says nothing of anyone: a quick person with a mistake sees it
        show_problems(form, problems, self_referral=True)
        return _self_page(form, 400)
    if elapsed < float(_setting("SELF_REFERRAL_MIN_SECONDS", MIN_SECONDS)):
        return _receipt_redirect()  # sent faster than a person fills it in: a machine
    keys = current_app.config.get("IDENTITY_CODE_KEYS")
    if keys is None:
        form.form_errors.append(_("Your request cannot be received just now. Please call us instead."))
        return _self_page(form, 503)
    try:
        receive(_engine(), keys, referral)
    except ReferralProblems as err:
        show_problems(form, err.problems, self_referral=True)
        return _self_page(form, 400)
    except CaseworkError:
        current_app.logger.warning("a self-referral could not be received")
        form.form_errors.append(_("Your request could not be received. Check your answers and send it again."))
        return _self_page(form, 400)
    return _receipt_redirect()


def _self_page(form: SelfReferralForm, status: int) -> Any:
    form.started.data = _started_token()  # a fresh start time each time the form is handed out
    return render_template("referrals/self_referral.html", form=form, title=_("Ask for help with work ability"),
                           contact_days=int(_setting("SELF_REFERRAL_CONTACT_DAYS", CONTACT_DAYS))), status


def _receipt_redirect() -> Response:
    return redirect(url_for("referrals.received"))


@bp.route("/referral/received")
def received() -> Any:
    """The receipt: what happens next and when; nothing about the person or any case."""
    return render_template("referrals/received.html", title=_("We have received your request"),
                           contact_days=int(_setting("SELF_REFERRAL_CONTACT_DAYS", CONTACT_DAYS)))


def _too_many() -> Any:
    response = current_app.make_response((render_template("referrals/too_many.html", title=_("Too many requests")),
                                          429))
    response.headers["Retry-After"] = "3600"
    return response
