"""Sign-in and sign-out (`/login`, `/logout`, OpenID Connect) and who is signed in (`webapp.auth.session`)."""

from webapp.auth.views import bp, init_app

__all__ = ["bp", "init_app"]
