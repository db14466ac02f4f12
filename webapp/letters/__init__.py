"""The print queue of letters to clients without email (`/letters`)."""

from flask import Blueprint

from webapp.auth.api import api_blueprint

bp = Blueprint("letters", __name__, url_prefix="/letters", template_folder="templates")
api = api_blueprint("letters_api", __name__, "/api/letters")

from webapp.letters import views  # noqa: E402,F401

__all__ = ["api", "bp"]
