"""`GET /api/openapi.json`: the OpenAPI 3 description of /engine-rest and /api, built from the app's routes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from webapp.api.openapi import document

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.route("/openapi.json")
def openapi() -> Response:
    """Public, like Camunda's own REST reference: it describes the API, not anyone's data."""
    return jsonify(document(current_app))
