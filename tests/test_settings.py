"""Settings: the embedded default makes its own secret key once and keeps using it."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_web_settings_defaults_and_overrides() -> None:
    base = {"POLKU_SECRET_KEY": "k" * 40, "POLKU_DATABASE_URL": "sqlite:///:memory:"}
    defaults = Settings.from_env(base)
    assert defaults.web_config() == {"MAX_CONTENT_LENGTH": 1_048_576, "MAX_VARIABLE_BYTES": 102_400,
                                     "BASE_URL": "http://127.0.0.1:5000", "SHOW_OVERVIEW": "local", "HSTS": False,
                                     "SIGN_IN_LIMIT_ACCOUNT": 10, "SIGN_IN_LIMIT_ADDRESS": 50, "SIGN_IN_WINDOW_S": 900,
                                     "SESSION_IDLE_MINUTES": 30, "SECRET_KEY": defaults.session_key(),
                                     "SESSION_COOKIE_SECURE": False, "SIGN_IN_RATE_LIMIT": "20 per minute",
                                     "OIDC": None, "INBOX_FULL_NAMES": False,
                                     "SELF_REFERRAL_RATE_LIMIT": "5 per hour", "SELF_REFERRAL_CONTACT_DAYS": 5,
                                     "IDLE_CASE_DAYS": 30, "INFORM_CLIENT_DAYS": 3,
                                     "EVENT_LOG_KEY": defaults.event_log_key()}
    assert defaults.session_key() != defaults.secret_key  # the cookie key is derived, never the secret itself
    assert defaults.event_log_key() not in (defaults.secret_key.encode(), bytes.fromhex(defaults.session_key()))
    custom = Settings.from_env({**base, "POLKU_MAX_REQUEST_BYTES": "2000000", "POLKU_MAX_VARIABLE_BYTES": "5000",
                                "POLKU_BASE_URL": "https://polku.example.fi/", "POLKU_SHOW_OVERVIEW": "ALL",
                                "POLKU_HSTS": "true", "POLKU_SIGN_IN_LIMIT_ACCOUNT": "5",
                                "POLKU_SIGN_IN_LIMIT_ADDRESS": "20", "POLKU_SIGN_IN_WINDOW_S": "3600",
                                "POLKU_SESSION_IDLE_MINUTES": "15", "POLKU_INBOX_FULL_NAMES": "yes",
                                "POLKU_SELF_REFERRAL_RATE_LIMIT": "2 per hour", "POLKU_IDLE_CASE_DAYS": "14"})
    assert custom.web_config() == {"MAX_CONTENT_LENGTH": 2_000_000, "MAX_VARIABLE_BYTES": 5000,
                                   "BASE_URL": "https://polku.example.fi", "SHOW_OVERVIEW": "all", "HSTS": True,
                                   "SIGN_IN_LIMIT_ACCOUNT": 5, "SIGN_IN_LIMIT_ADDRESS": 20, "SIGN_IN_WINDOW_S": 3600,
                                   "SESSION_IDLE_MINUTES": 15, "SECRET_KEY": custom.session_key(),
                                   "SESSION_COOKIE_SECURE": True, "SIGN_IN_RATE_LIMIT": "20 per minute",
                                   "OIDC": None, "INBOX_FULL_NAMES": True,
                                   "SELF_REFERRAL_RATE_LIMIT": "2 per hour", "SELF_REFERRAL_CONTACT_DAYS": 5,
                                   "IDLE_CASE_DAYS": 14, "INFORM_CLIENT_DAYS": 3,
                                   "EVENT_LOG_KEY": custom.event_log_key()}
    assert Settings.from_env({**base, "POLKU_HOST": "0.0.0.0", "POLKU_PORT": "8080"}).base_url == "http://localhost:8080"
    assert Settings.from_env({**base, "POLKU_HOST": "::1"}).base_url == "http://[::1]:5000"


def test_bad_web_settings_are_refused_by_name() -> None:
    base = {"POLKU_SECRET_KEY": "k" * 40, "POLKU_DATABASE_URL": "sqlite:///:memory:"}
    for name, value in (("POLKU_MAX_REQUEST_BYTES", "1MB"), ("POLKU_MAX_VARIABLE_BYTES", "-5"),
                        ("POLKU_BASE_URL", "polku.example.fi"), ("POLKU_BASE_URL", "ftp://x"),
                        ("POLKU_SHOW_OVERVIEW", "maybe"), ("POLKU_PORT", "http"),
                        ("POLKU_SIGN_IN_LIMIT_ACCOUNT", "0"), ("POLKU_SIGN_IN_WINDOW_S", "15m")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({**base, name: value})
