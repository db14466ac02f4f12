"""Werkzeug's server as `polku serve` runs it, without software versions in the `Server` header."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler answering `Server: Polku`, not `Werkzeug/3.x Python/3.x` (versions help attackers)."""

    def version_string(self) -> str:
        return "Polku"
