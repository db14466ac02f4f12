"""`polku start --vars` with an identity code receives the referral first, as /engine-rest does."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.diagrams import chain, process

POLKU = Path(sys.executable).with_name("polku")
INTAKE = process("intake", '<bpmn:startEvent id="start"/><bpmn:userTask id="check" name="Check"/>'
                 '<bpmn:endEvent id="end"/>' + chain("start", "check", "end"))


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLKU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "POLKU_SECRET_KEY": secrets.token_urlsafe(32)}
    result = subprocess.run([str(POLKU), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def test_polku_start_puts_the_client_id_in_the_case_not_the_code(tmp_path: Path) -> None:
    (tmp_path / "intake.bpmn").write_bytes(INTAKE)
    assert run(tmp_path, "deploy", "intake.bpmn").returncode == 0

    refused = run(tmp_path, "start", "intake", "--vars", '{"personalId": "131052-930W", "clientName": "Koe Asiakas"}')
    assert refused.returncode == 1 and "check character" in refused.stderr and "131052-930W" not in refused.stderr
    started = run(tmp_path, "start", "intake", "--vars", '{"personalId": "131052-930V", "clientName": "Koe Asiakas",'
                                                         ' "urgency": "normal"}')
    assert started.returncode == 0, started.stderr

    [case] = json.loads(run(tmp_path, "cases", "--json").stdout)
    assert set(case["variables"]) == {"clientId", "urgency"}
    assert b"131052-930V" not in (tmp_path / "cli.db").read_bytes()
