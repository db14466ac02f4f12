"""Start tests/oidc/provider.mjs (npm oidc-provider) as a real identity provider, and drive its pages.

The provider's development interactions are plain HTML forms (login, then consent); `authorize` posts
them with `requests` as a browser would, and stops at the redirect back to Polku.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

SCRIPT = Path(__file__).with_name("provider.mjs")
ROOT = SCRIPT.parent.parent.parent


def node() -> str | None:
    return shutil.which("node") if (ROOT / "node_modules" / "oidc-provider").is_dir() else None


@contextmanager
def running_provider(config: dict[str, Any], timeout_s: float = 20.0) -> Iterator[str]:
    """The provider's issuer URL while it runs; stopped (SIGTERM, then killed) afterwards."""
    executable = node()
    assert executable, "node and node_modules/oidc-provider are needed (npm ci)"
    process = subprocess.Popen([executable, str(SCRIPT), json.dumps(config)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the OIDC provider exited before it was ready"
        issuer = json.loads(line)["issuer"]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the OIDC provider did not answer its discovery document"
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _form(page: str, base: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its absolute action and its hidden fields."""
    match = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert match, f"no form on the provider's page: {page[:300]}"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return urljoin(base, unescape(match.group(1))), {k: unescape(v) for k, v in hidden.items()}


def authorize(url: str, login: str, back_to: str, max_steps: int = 12) -> str:
    """Follow the provider from its authorization URL through login and consent, as a person would.

    Returns the URL the provider finally sends the browser to (under `back_to`, with code and state).
    """
    browser = requests.Session()
    response = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(max_steps):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if target.startswith(back_to):
                return target
            response = browser.get(target, allow_redirects=False, timeout=10)
            continue
        assert response.status_code == 200, response.text[:500]
        action, fields = _form(response.text, response.url)
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any password")
        response = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    raise AssertionError("the provider did not send the browser back")
