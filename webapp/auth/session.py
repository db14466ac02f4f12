"""Who is signed in: the Flask session holds only the account id and the time of the last request.

The staff member (roles, teams, groups) is read from the database on every request, so a deactivated
account or a changed role takes effect at once. A session that has been idle longer than
SESSION_IDLE_MINUTES is over: the next request signs the person out and asks them to sign in again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, session, url_for

from casework.staff import Staff, load_staff
from casework.users import Role

F = TypeVar("F", bound=Callable[..., Any])
_UID = "uid"
_SEEN = "seen"
IDLE_NOTICE = "idle_minutes"  # set when a session ended for idleness: the sign-in page says so once


def now_s() -> int:
    """Seconds on the engine's clock (tests move a TestClock instead of waiting for a session to go idle)."""
    return int(current_app.config["ENGINE"].clock().timestamp())


def sign_in(user_id: str) -> None:
    """Start a fresh session for `user_id` (a new session: nothing of a previous one is kept)."""
    language = session.get("lang")
    session.clear()
    session[_UID] = user_id
    session[_SEEN] = now_s()
    if language:
        session["lang"] = language
    session.permanent = True
    g.pop("staff", None)


def sign_out() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    g.pop("staff", None)


def current_staff() -> Staff | None:
    """The signed-in staff member of this request, or None (not signed in, idle too long, deactivated)."""
    if "staff" in g:
        return cast(Staff | None, g.staff)
    staff = None
    user_id = session.get(_UID)
    if user_id:
        idle_minutes = int(current_app.config["SESSION_IDLE_MINUTES"])
        now = now_s()
        if now - int(session.get(_SEEN, 0)) > idle_minutes * 60:
            sign_out()
            session[IDLE_NOTICE] = idle_minutes
            g.session_expired = True
        else:
            with current_app.config["ENGINE"].db.read() as db:
                staff = load_staff(db, user_id)
            if staff is None:
                sign_out()
            elif now - int(session.get(_SEEN, 0)) >= 60:  # refresh the cookie at most once a minute
                session[_SEEN] = now
    g.staff = staff
    return staff


def require_staff() -> Staff:
    """The signed-in staff member; a view calls this after `login_required` has let the request in."""
    staff = current_staff()
    if staff is None:
        abort(401)
    return staff


def login_required(view: F) -> F:
    """Send a request without a session to the sign-in page (and back here afterwards)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Signed in and holding one of `roles`, else 403."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not require_staff().has(*roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate
