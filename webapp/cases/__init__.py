"""The case page (`/cases/<case number>`), case search (`/cases?q=`), and their JSON twins under `/api/cases`.

Modules: `views` (the page, search, notes, timeline), `sections` (the plan, network, history and letters parts
of the page), `actions` (the forms that POST on them), `api_views` (their JSON twins: consents, referrals,
plan), `diagram` (where the case is on its BPMN diagram), `access` (open a case: the access rule and the
access log, for pages and for JSON).
"""

from flask import Blueprint

from webapp.auth.api import api_blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")
api = api_blueprint("cases_api", __name__, "/api/cases")

from webapp.cases import actions, api_views, diagram, sections, views  # noqa: E402,F401  (routes register on bp and api)

__all__ = ["api", "bp"]
