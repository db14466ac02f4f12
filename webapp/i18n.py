"""The pages in Finnish (the default), Swedish and English, the user's choice remembered.

The choice is kept in the session (and on the account, so it follows the person to another device);
before any choice, the browser's Accept-Language decides. Catalogues are read from their .po sources
(`casework.catalogues`), so a fresh clone needs no compile step.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from babel.support import Translations
from flask import Blueprint, Flask, current_app, redirect, request, session
from flask_babel import Babel, Domain, get_locale
from werkzeug.wrappers import Response

from casework.catalogues import DEFAULT_LANGUAGE, LANGUAGES, translations
from casework.users import StaffUser

bp = Blueprint("i18n", __name__)
LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}


class CatalogueDomain(Domain):
    """Flask-Babel's domain, with the catalogues read from .po files instead of compiled .mo files."""

    def get_translations(self) -> Translations:
        return translations(str(get_locale() or DEFAULT_LANGUAGE))


class CatalogueBabel(Babel):
    """Flask-Babel with `CatalogueDomain` as its default domain."""

    @cached_property
    def domain_instance(self) -> Domain:
        return CatalogueDomain()


def select_language() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    from webapp.auth.session import current_staff

    staff = current_staff()
    if staff is not None and staff.language in LANGUAGES:
        return str(staff.language)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    CatalogueBabel(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE)
    app.register_blueprint(bp)

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {"language_names": LANGUAGE_NAMES, "current_language": str(get_locale() or DEFAULT_LANGUAGE)}


@bp.route("/language", methods=["POST"])
def choose_language() -> Response:
    """Remember the chosen language (session, and the account when signed in), then go back where the user was."""
    from webapp.auth.session import current_staff
    from webapp.auth.views import safe_next

    language = request.form.get("lang", "")
    if language in LANGUAGES:
        session["lang"] = language
        staff = current_staff()
        if staff is not None:
            with current_app.config["ENGINE"].db.transaction() as db:
                user = db.get(StaffUser, staff.id)
                if user is not None:
                    user.language = language
    return redirect(safe_next(request.form.get("next")))
