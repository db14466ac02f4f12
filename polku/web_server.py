"""`polku serve` on gunicorn: worker processes and threads as settings, not Flask's development server.

Each web process builds its own engine, app and in-process helpers (scheduler, job workers) after the
fork, in `load()`: threads and database connections do not survive a fork, so nothing of the kind is
made in the master. The embedded default (SQLite) runs one process: SQLite takes one writer at a time,
and several processes would each run their own scheduler and workers against one file. With
PostgreSQL, POLKU_WEB_PROCESSES processes each serve requests on POLKU_WEB_THREADS threads (the
scheduler and workers are safe to run in several processes at once, or run apart with `polku scheduler`
and `polku worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from polku.settings import Settings

log = logging.getLogger("polku.web_server")

# What one web process starts: the WSGI app, and how to stop what it started beside it.
Start = Callable[[], tuple[Any, Callable[[], None]]]

GRACEFUL_S = 10  # SIGTERM: requests in flight get this long (a long-polling fetchAndLock is cut short, harmlessly)


def processes_for(settings: Settings) -> int:
    """POLKU_WEB_PROCESSES, except that the embedded default (SQLite) always runs one process."""
    if settings.database_url.startswith("sqlite") and settings.web_processes > 1:
        log.warning("POLKU_WEB_PROCESSES=%d ignored: the embedded default (SQLite, with the scheduler and job "
                    "workers in-process) runs one web process; use PostgreSQL for more", settings.web_processes)
        return 1
    return settings.web_processes


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class WebServer(BaseApplication):
    """gunicorn run from Python with Polku's settings; `start` runs in each worker process."""

    def __init__(self, options: dict[str, Any], start: Start) -> None:
        self.options = options
        self.start = start
        self.stop: Callable[[], None] | None = None
        super().__init__()

    def load_config(self) -> None:
        from gunicorn.http import wsgi

        wsgi.SERVER = "Polku"  # the `Server` header names no software and no versions (they help attackers)
        for name, value in self.options.items():
            self.cfg.set(name, value)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Any:
        app, self.stop = self.start()
        return app

    def _worker_exit(self, _server: Any, _worker: Any) -> None:
        if self.stop is not None:
            self.stop()


def options(settings: Settings) -> dict[str, Any]:
    processes = processes_for(settings)
    return {
        "bind": [bind_address(settings.host, settings.port)],
        "workers": processes,
        "threads": settings.web_threads,
        "worker_class": "gthread",  # threads: a long-polling fetchAndLock must not hold up other requests
        "timeout": 60,  # a silent worker process is replaced (gthread workers beat between requests)
        "graceful_timeout": GRACEFUL_S,
        "keepalive": 5,
        "accesslog": None,  # URLs carry ids, never personal data, but an access log is not needed here
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "polku",
        "control_socket_disable": True,  # gunicorn's control socket sits in $HOME and would clash between servers
    }


def run(settings: Settings, start: Start, in_process: str) -> None:
    """Serve until SIGTERM or SIGINT (then requests in flight finish, up to GRACEFUL_S seconds)."""
    config = options(settings)
    log.info("Polku at %s: %d web process(es) with %d thread(s) each; %s", settings.base_url, config["workers"],
             config["threads"], in_process)
    WebServer(config, start).run()
