"""Who calls a JSON route under `/api`: the signed-in staff member (browser session), or a staff account by
HTTP Basic or a bearer token, as on `/engine-rest`.

The pages and their JSON twins ask the same `casework` rules with the same `Staff`, so a route needs no
rules of its own. A session-authenticated POST must carry the CSRF token (header `X-CSRFToken`), like a
form; a call with an Authorization header carries no cookie, so it needs none. Errors are JSON:
`{"type", "message"}` with 401, 403 or 429.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from casework.staff import Staff, load_staff
from webapp.auth.session import current_staff

F = TypeVar("F", bound=Callable[..., Any])
API_BLUEPRINTS: list[Blueprint] = []


def json_error(status: int, kind: str, message: str) -> Any:
    response = jsonify({"type": kind, "message": message})
    response.status_code = status
    return response


def _staff_from_header() -> Staff | Any:
    from webapp.engine_rest.auth import authenticate
    from webapp.engine_rest.errors import RestError

    engine = current_app.config["ENGINE"]
    try:
        caller = authenticate(request, engine)
    except RestError as err:
        return json_error(err.status, err.type, str(err))
    with engine.db.read() as session:
        staff = load_staff(session, caller.user_id)
    return staff if staff is not None else json_error(401, "AuthenticationException", "the account is not active")


def api_staff() -> Staff:
    """The caller of this API request (set by `api_route`)."""
    return cast(Staff, g.api_staff)


def api_route(view: F) -> F:
    """Authenticate a JSON route: session (with CSRF on unsafe methods) or Basic/bearer; else a JSON 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Authorization"):
            found = _staff_from_header()
            if not isinstance(found, Staff):
                return found
            staff = found
        else:
            session_staff = current_staff()
            if session_staff is None:
                return json_error(401, "AuthenticationException",
                                  "sign in, or authenticate with HTTP Basic or a bearer token")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                csrf: CSRFProtect = current_app.extensions["csrf"]
                try:
                    csrf.protect()
                except CSRFError as err:
                    return json_error(400, "CsrfException", str(err.description))
            staff = session_staff
        g.api_staff = staff
        return view(*args, **kwargs)

    return cast(F, wrapped)


def api_blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A blueprint of JSON routes under `/api`; `init_app` exempts it from the form CSRF check, which
    `api_route` makes itself for session callers."""
    assert url_prefix.startswith("/api/")
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    API_BLUEPRINTS.append(bp)
    return bp


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    for bp in API_BLUEPRINTS:
        csrf.exempt(bp)
