"""A Camunda 7-compatible REST API under /engine-rest, so Camunda's external task clients work unchanged.

Only a subset is implemented (external tasks, starting, reading instances and tasks, messages, incidents);
every request authenticates (Basic or bearer token) and the caller's roles decide what it may use.
"""

from __future__ import annotations

from webapp.engine_rest import external_task, incident, process, task  # noqa: F401  (register the routes)
from webapp.engine_rest.blueprint import bp

__all__ = ["bp"]
