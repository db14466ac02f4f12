"""var/ and the SQLite database in it are readable by their owner only: they hold client data.

SQLite creates a database file with the process umask (usually -rw-r--r--) and gives its -wal and
-shm files the database file's own permissions. So the file is created here first, mode 0600, before
SQLite opens it; the directory is created 0700. Files left world-readable by an older version are
tightened when Polku starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create the directory (owner only) if missing; tighten it if it exists and we own it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(path, 0o700)
    return path


def private_sqlite_file(url: str) -> Path | None:
    """For a sqlite:///file URL: the file and its companions exist, or will be created, as 0600."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    path = Path(url[len("sqlite:///"):].split("?", 1)[0])
    if not path.parent.exists():
        private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # mode applies only if it is created now
    for suffix in ("", *SQLITE_COMPANIONS):
        _tighten(path.with_name(path.name + suffix), 0o600)
    return path


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions from a file or directory this user owns."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)
