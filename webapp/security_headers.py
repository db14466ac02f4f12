"""Headers on every response that tell browsers to be strict with Polku's pages and API answers.

No inline script or style may run (the policy has no 'unsafe-inline'), no other site may frame a page,
no response is sniffed into another type, no URL (case ids) leaks to other sites as a referrer, and
nothing but static files may be kept in a cache: pages and API answers carry client data. HSTS is sent
on HTTPS requests, and on all when the HSTS setting says TLS ends at a proxy in front.

The `Server` header is the WSGI server's, not the app's: `polku serve` runs gunicorn with it set to
`Polku` (polku/web_server.py), naming no software or versions.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def init_app(app: Flask) -> None:
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure or current_app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = HSTS
    return response
