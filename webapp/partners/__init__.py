"""The network partners' view (`/partner`): only the referrals addressed to the partner's organisation."""

from flask import Blueprint

from webapp.auth.api import api_blueprint

bp = Blueprint("partners", __name__, url_prefix="/partner", template_folder="templates")
api = api_blueprint("partners_api", __name__, "/api/partner")

from webapp.partners import views  # noqa: E402,F401

__all__ = ["api", "bp"]
