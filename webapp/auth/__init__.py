"""Sign-in and sign-out (`/login`, `/logout`) and who is signed in (`webapp.auth.session`)."""

from webapp.auth.views import bp

__all__ = ["bp"]
