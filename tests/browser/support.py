"""Browser tests: a real `polku serve` on a fresh SQLite database, driven by Debian's chromium (Playwright).

One server per test session (starting it deploys bpmn/ and loads the demo cases, about ten seconds), a
fresh browser context per test (no cookies carried over). Every page a test visits is checked with
axe-core for WCAG 2.1 A/AA at desktop width and at 375 px, and must not trip the Content-Security-Policy.
Tests share the demo data, so each test works on its own cases and accounts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("POLKU_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "browser-tests-demo-password"  # POLKU_DEMO_PASSWORD: every demo staff account signs in with it
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Server:
    """A running `polku serve`: its address and its log (for a failing test's message)."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, home: Path) -> Server:
        """`polku serve` with the demo data on a fresh SQLite database in `home`, on a free port; waits for
        /login to answer. Only the command line and the environment: whatever WSGI server `serve` runs."""
        port = free_port()
        env = {**os.environ, "POLKU_DATABASE_URL": f"sqlite:///{home / 'polku.db'}", "POLKU_HOST": "127.0.0.1",
               "POLKU_PORT": str(port), "POLKU_DEMO_PASSWORD": PASSWORD, "POLKU_BASE_URL": f"http://127.0.0.1:{port}",
               "POLKU_SECRET_KEY": "browser-tests-" + "k" * 32, "PYTHONUNBUFFERED": "1"}
        polku = shutil.which("polku", path=str(Path(sys.executable).parent)) or "polku"
        log = home / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen([polku, "serve", "--no-scheduler"], cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        server = cls(f"http://127.0.0.1:{port}", log, process)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers(server.url + "/login"):
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"polku serve did not answer on {server.url}/login:\n{server.log_tail()}")
            time.sleep(0.25)
        return server

    def stop(self) -> None:
        """SIGTERM to the server's own process group (a WSGI server's workers too), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# What each page reported to its console (CSP violations, script errors), for check_accessibility
PROBLEMS: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


@dataclass
class Visit:
    """A browser context for one person."""

    server: Server
    context: Any

    def page(self) -> Any:
        """A new tab; the Content-Security-Policy stays on, so a blocked inline script or style is a problem."""
        page = self.context.new_page()
        problems: list[str] = []
        PROBLEMS[page] = problems
        page.on("console", lambda m: problems.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error" and not _page_status(m, page) else None)
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        return page


def _page_status(message: Any, page: Any) -> bool:
    """The console's note on the page's own 4xx status (a refused sign-in is a 401 page): the test checks that."""
    return bool(message.text.startswith("Failed to load resource") and message.location.get("url") == page.url)


AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(" "))}));
}"""


# Elements that make the page wider than the window: past its right edge and not clipped by a scrolling box
# (an absolutely positioned element escapes the box unless the box is positioned)
TOO_WIDE = """() => [...document.querySelectorAll('body *')].filter(e => {
    if (e.getBoundingClientRect().right <= window.innerWidth + 1) return false;
    const escapes = ['absolute', 'fixed'].includes(getComputedStyle(e).position);
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== 'visible' && (!escapes || s.position !== 'static')) return false;
    }
    return true;
  }).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(AXE_RUN, WCAG_TAGS))


def check_accessibility(page: Any, name: str) -> None:
    """No WCAG 2.1 A/AA violation at desktop width or at 375 px, no sideways scrolling at 375 px, and no
    CSP violation or script error so far; screenshots of both widths go to tests/browser/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    original = page.viewport_size or DESKTOP
    found: list[str] = []
    try:
        for label, size in (("desktop", DESKTOP), ("375px", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
            for v in axe_violations(page):
                found.append(f"{label}: {v['id']} ({v['impact']}): {v['help']}; at {json.dumps(v['targets'][:5])}")
            if label == "375px":
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    found.append(f"375px: the page scrolls sideways by {overflow} px (WCAG 1.4.10 reflow); "
                                 f"too wide: {page.evaluate(TOO_WIDE)}")
    finally:
        page.set_viewport_size(original)
    problems = PROBLEMS.get(page, [])
    found.extend(f"console: {p}" for p in problems)
    problems.clear()
    assert not found, f"{name} ({page.url}):\n" + "\n".join(found)


def docs_screenshot(page: Any, name: str) -> None:
    """With POLKU_SCREENSHOTS=docs, refresh the README's picture docs/screenshots/<name>.png."""
    if os.environ.get("POLKU_SCREENSHOTS") == "docs":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}.png"), full_page=False)


def sign_in(visit: Visit, user: str, password: str = PASSWORD) -> Any:
    """A new tab, signed in as `user` through the sign-in page."""
    page = visit.page()
    page.goto("/login")
    page.locator("#user_id").fill(user)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("form[action='/logout']"), f"{user} could not sign in").to_have_count(1)
    return page
