"""What every page shares: `/` (the signed-in person's start page), the main navigation and the staff member."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from casework.users import Role
from webapp.auth.session import current_staff

# (endpoint, label, roles that see it; empty: every signed-in staff member). Blueprints add theirs here.
NAVIGATION: list[tuple[str, Any, frozenset[Role]]] = []


def add_navigation(endpoint: str, label: Any, *roles: Role) -> None:
    if all(e != endpoint for e, _, _ in NAVIGATION):
        NAVIGATION.append((endpoint, label, frozenset(roles)))


def init_app(app: Flask) -> None:
    app.add_url_rule("/", "home", home)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        staff = current_staff()
        items = [(e, label) for e, label, roles in NAVIGATION
                 if staff is not None and (not roles or staff.roles & roles) and e in app.view_functions]
        return {"staff": staff, "main_navigation": items, "title": None}


def home() -> Response:
    """Signed in: the first page of the main navigation (the inbox); otherwise the sign-in page."""
    staff = current_staff()
    if staff is None:
        return redirect(url_for("auth.login"))
    for endpoint, _label, roles in NAVIGATION:
        if not roles or staff.roles & roles:
            return redirect(url_for(endpoint))
    return redirect(url_for("overview.index"))


_ = _l  # the label helper blueprints use: translated when the page renders
