"""`/api`: what Polku's HTTP APIs are (the OpenAPI document); JSON endpoints of the pages may join it."""

from webapp.api.views import bp

__all__ = ["bp"]
