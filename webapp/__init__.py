"""The web app (Flask application factory); blueprints per area arrive with the web issues."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config["ENGINE"]` is the engine.runtime.Engine it serves."""
    app = Flask(__name__)
    app.config.update(config or {})
    from webapp import engine_rest, overview

    app.register_blueprint(overview.bp)
    app.register_blueprint(engine_rest.bp)
    return app
