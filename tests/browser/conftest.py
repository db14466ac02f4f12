"""Fixtures of the browser tests: one `polku serve` and one chromium per session, a browser context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.support import AXE, CHROMIUM, DESKTOP, Server, Visit


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real browser against `polku serve` (SQLite only)")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if os.environ.get("POLKU_TEST_POSTGRES"):
        pytest.skip("browser tests run on SQLite only (one database keeps CI under 20 minutes)")
    if not (os.path.exists(CHROMIUM) and AXE.exists()):
        message = f"browser tests need {CHROMIUM} (apt-get install chromium) and {AXE} (npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    running = Server.start(tmp_path_factory.mktemp("polku-serve"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"])
        yield chromium
        chromium.close()


def _visit(server: Server, browser: Any) -> Iterator[Visit]:
    """A fresh context: a Finnish browser at desktop size, axe-core injected into every page it opens
    (as an init script, which runs outside the page's Content-Security-Policy, like a browser extension)."""
    context = browser.new_context(locale="fi-FI", viewport=DESKTOP, base_url=server.url)
    context.add_init_script(path=str(AXE))
    context.set_default_timeout(15_000)
    yield Visit(server, context)
    context.close()


@pytest.fixture
def visit(server: Server, browser: Any) -> Iterator[Visit]:
    """One person's browser."""
    yield from _visit(server, browser)


@pytest.fixture
def another_visit(server: Server, browser: Any) -> Iterator[Visit]:
    """A second person's browser, for tests where two people act at once."""
    yield from _visit(server, browser)
