"""Overview page: deployed definitions and cases with what each waits for (no client data)."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, abort, current_app, render_template, request

bp = Blueprint("overview", __name__)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/")
def index() -> str:
    """Until sign-in exists, shown to this machine only (SHOW_OVERVIEW: local), to everyone (all) or to no one."""
    if not _shown_to_caller():
        abort(403, description="The overview is shown only on the server itself until sign-in exists "
                               "(setting POLKU_SHOW_OVERVIEW).")
    engine = current_app.config["ENGINE"]
    definitions = engine.definitions.latest_versions()
    cases = engine.cases()
    return render_template("overview.html", definitions=definitions, cases=cases)


@bp.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _shown_to_caller() -> bool:
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
