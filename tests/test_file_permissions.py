"""var/ holds client data: `polku serve` on a fresh var/ leaves it and every file in it to the owner alone.

SQLite used to create the database (and so its -wal and -shm) with the umask, -rw-r--r--.
The same server is asked for a page: its `Server` header names no software version.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from polku.settings import Settings
from tests.conftest import wait_for

POLKU = Path(sys.executable).with_name("polku")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def test_the_embedded_default_keeps_var_to_its_owner(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env.update(POLKU_DATABASE_URL=f"sqlite:///{var / 'polku.db'}", POLKU_SECRET_KEY_FILE=str(var / "secret_key"),
               POLKU_HOST="127.0.0.1", POLKU_PORT=str(port))
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen([str(POLKU), "serve", "--no-demo"], env=env, umask=0o022, cwd=tmp_path,
                                  stdout=output, stderr=subprocess.STDOUT)

    def up(check: Callable[[], bool]) -> Callable[[], bool]:
        def ready() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"polku serve exited:\n{log.read_text()[-3000:]}")
            return check()
        return ready

    try:
        wait_for(up(lambda: answers(f"http://127.0.0.1:{port}/health")), "polku serve to answer", timeout=120)
        # the scheduler reads every second: the WAL appears with its first transaction
        wait_for(up(lambda: (var / "polku.db-wal").exists()), "the SQLite WAL", timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            server_header = response.headers.get("Server", "")
            cache = response.headers.get("Cache-Control")

        assert mode(var) == 0o700
        files = sorted(var.iterdir())
        assert {f.name for f in files} >= {"polku.db", "polku.db-wal", "polku.db-shm", "secret_key"}
        for path in files:
            assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"
        assert server_header == "Polku"  # not Werkzeug/3.x Python/3.x
        assert cache == "no-store"
    finally:
        server.terminate()
        server.wait(30)


def test_a_database_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "data" / "polku.db"
    database.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        path.write_bytes(b"")
        path.chmod(0o644)
    Settings.from_env({"POLKU_DATABASE_URL": f"sqlite:///{database}", "POLKU_SECRET_KEY": "k" * 40})
    for suffix in ("", "-wal", "-shm"):
        assert mode(database.with_name(database.name + suffix)) == 0o600


def test_a_new_database_directory_is_created_for_the_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "new" / "deeper" / "polku.db"
    old = os.umask(0o022)
    try:
        Settings.from_env({"POLKU_DATABASE_URL": f"sqlite:///{database}", "POLKU_SECRET_KEY": "k" * 40})
    finally:
        os.umask(old)
    assert mode(database.parent) == 0o700 and mode(database) == 0o600
