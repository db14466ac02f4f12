"""`polku serve` runs on gunicorn: it starts on a fresh database, answers the sign-in page, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from polku.settings import Settings
from polku.web_server import bind_address, options, processes_for
from tests.conftest import wait_for

POLKU = Path(sys.executable).with_name("polku")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in_page(url: str) -> tuple[int, str, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Server", ""), response.read().decode()
    except OSError:
        return None


def test_polku_serve_answers_on_gunicorn_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env.update(POLKU_DATABASE_URL=f"sqlite:///{tmp_path / 'polku.db'}", POLKU_SECRET_KEY="s" * 40,
               POLKU_HOST="127.0.0.1", POLKU_PORT=str(port), POLKU_WEB_PROCESSES="4", POLKU_WEB_THREADS="3")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(POLKU), "serve", "--no-demo"], env=env, cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        def ready() -> tuple[int, str, str] | None:
            if server.poll() is not None:
                raise AssertionError(f"polku serve exited:\n{log.read_text()[-3000:]}")
            return sign_in_page(f"http://127.0.0.1:{port}/login")

        status, server_header, page = wait_for(ready, "polku serve to answer /login", timeout=120)
        assert status == 200 and 'name="csrf_token"' in page
        assert server_header == "Polku"  # no software name or version
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    text = log.read_text()
    assert "Starting gunicorn" in text and "Using worker: gthread" in text  # not Werkzeug's development server
    assert "POLKU_WEB_PROCESSES=4 ignored" in text  # SQLite: one process, and the log says why
    assert "1 web process(es) with 3 thread(s) each" in text
    assert "Shutting down" in text and "Traceback" not in text
    assert sign_in_page(f"http://127.0.0.1:{port}/login") is None  # the port is free again


def test_web_settings(tmp_path: Path) -> None:
    base = {"POLKU_SECRET_KEY": "s" * 40, "POLKU_DATABASE_URL": "postgresql://db.example/polku"}
    settings = Settings.from_env(base)
    assert (settings.web_processes, settings.web_threads) == (1, 8)
    settings = Settings.from_env({**base, "POLKU_WEB_PROCESSES": "4", "POLKU_WEB_THREADS": "16"})
    assert processes_for(settings) == 4  # PostgreSQL: as many as asked
    config = options(settings)
    assert (config["workers"], config["threads"], config["worker_class"]) == (4, 16, "gthread")
    assert bind_address("::1", 5000) == "[::1]:5000" and bind_address("0.0.0.0", 80) == "0.0.0.0:80"
    with pytest.raises(ValueError, match="POLKU_WEB_THREADS"):
        Settings.from_env({**base, "POLKU_WEB_THREADS": "0"})
    with pytest.raises(ValueError, match="POLKU_SIGN_IN_RATE_LIMIT"):
        Settings.from_env({**base, "POLKU_SIGN_IN_RATE_LIMIT": "lots"})
