"""Overview page: deployed definitions and cases with what each waits for (no client data)."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, abort, current_app, render_template, request

bp = Blueprint("overview", __name__)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/overview")
def index() -> str:
    """For process owners, managers and admins; without sign-in only as SHOW_OVERVIEW says (local, all, off)."""
    if not _shown_to_caller():
        abort(403, description="The overview is for process owners, managers and admins; without signing in it is "
                               "shown only as the setting POLKU_SHOW_OVERVIEW allows.")
    engine = current_app.config["ENGINE"]
    definitions = engine.definitions.latest_versions()
    cases = engine.cases()
    return render_template("overview.html", definitions=definitions, cases=cases)


@bp.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _shown_to_caller() -> bool:
    from casework.users import Role
    from webapp.auth.session import current_staff

    staff = current_staff()
    if staff is not None and staff.has(Role.PROCESS_OWNER, Role.MANAGER, Role.ADMIN):
        return True
    audience = current_app.config.get("SHOW_OVERVIEW", "local")
    if audience == "all":
        return True
    return audience == "local" and _from_this_machine()


def _from_this_machine() -> bool:
    """A loopback peer that came in directly: behind a reverse proxy on the same machine every request
    would look local, so a request with a proxy's forwarding header never counts as local."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
