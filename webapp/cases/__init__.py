"""The case page (`/cases/<case number>`), case search (`/cases?q=`), and their JSON twins under `/api/cases`.

Modules: `views` (the page, search, notes, timeline), `sections` (plan, network, history and letters parts
of the page, and the actions on them), `diagram` (where the case is on its BPMN diagram), `access` (open a
case: the access rule and the access log).
"""

from flask import Blueprint

from webapp.auth.api import api_blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")
api = api_blueprint("cases_api", __name__, "/api/cases")

from webapp.cases import diagram, sections, views  # noqa: E402,F401  (routes register on bp and api)

__all__ = ["api", "bp"]
