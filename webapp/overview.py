"""Overview page: deployed definitions and cases with what each waits for (no client data)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("overview", __name__)


@bp.get("/")
def index() -> str:
    engine = current_app.config["ENGINE"]
    definitions = engine.definitions.list()
    cases = engine.cases()
    return render_template("overview.html", definitions=definitions, cases=cases)


@bp.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
