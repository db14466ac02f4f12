"""The task page (`/tasks/<task id>`): one human step of a case, its form, and the case at a glance."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tasks", __name__, template_folder="templates", url_prefix="/tasks")

from webapp.tasks import views  # noqa: E402,F401  (registers the routes on bp)
