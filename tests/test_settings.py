"""Settings: the embedded default makes its own secret key once and keeps using it."""

from __future__ import annotations

from pathlib import Path

from polku.settings import Settings


def test_without_a_secret_key_a_random_key_file_is_created_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret_key"
    env = {"POLKU_SECRET_KEY_FILE": str(key_file), "POLKU_DATABASE_URL": "sqlite:///:memory:"}
    first = Settings.from_env(env).secret_key
    assert key_file.exists() and key_file.stat().st_mode & 0o077 == 0  # readable by the owner only
    assert Settings.from_env(env).secret_key == first and len(first) >= 32
    other = Settings.from_env({**env, "POLKU_SECRET_KEY_FILE": str(tmp_path / "other")}).secret_key
    assert other != first


def test_the_environment_key_wins(tmp_path: Path) -> None:
    env = {"POLKU_SECRET_KEY": "from-the-environment-0123456789", "POLKU_DATABASE_URL": "sqlite:///:memory:",
           "POLKU_SECRET_KEY_FILE": str(tmp_path / "unused")}
    assert Settings.from_env(env).secret_key == "from-the-environment-0123456789"
    assert not (tmp_path / "unused").exists()
