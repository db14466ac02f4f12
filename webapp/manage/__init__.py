"""The managers' views (`/manage`) for team leads and managers, and their JSON twins under `/api/manage`.

Modules: `views` (alarms, where cases wait now, filters, CSV), `heatmap` (the waits on the BPMN diagram),
`flow` (lead times, inflow and outflow, workload and rebalancing), `outcomes` (whether the model works),
`exports` (the event log as XES and CSV for process mining).
"""

from flask import Blueprint

from webapp.auth.api import api_blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage", template_folder="templates")
api = api_blueprint("manage_api", __name__, "/api/manage")

from webapp.manage import exports, flow, heatmap, outcomes, views  # noqa: E402,F401

__all__ = ["api", "bp"]
