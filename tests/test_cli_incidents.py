"""`polku incidents` and `polku incident retry|resolve` run as a process on a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta

import pytest

from engine.clock import utcnow
from engine.db import Database
from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.engine.runtime_support import jobs_of, open_task_elements, single_job
from tests.engine.test_runtime_timers import wait_then_decide
from tests.test_cli import POLKU


@pytest.fixture
def live(database_url: str):
    """An engine on the database the command uses, on the real clock."""
    engine = Engine(Database(database_url))
    yield engine
    engine.db.dispose()


@pytest.fixture
def polku(database_url: str, tmp_path):
    env = {**os.environ, "POLKU_DATABASE_URL": database_url}
    env.pop("POLKU_DEBUG", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(POLKU), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=120, check=False)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        return result

    return run


def failed_job(engine: Engine) -> tuple[str, str]:
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs", "BK-7")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.fail_job(job.id, "w1", "printer on fire", retries=0)
    return case_id, job.id


def test_list_retry_and_the_worker_finishes(polku, live: Engine) -> None:
    case_id, job_id = failed_job(live)

    listed = polku("incidents", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["caseId"], row["businessKey"], row["elementId"], row["kind"], row["message"], row["resolution"]) == (
        case_id, "BK-7", "work", "failedExternalTask", "printer on fire", None)
    text = polku("incidents")
    assert f"{row['id']}  failedExternalTask" in text.stdout and "printer on fire" in text.stdout

    at = (utcnow() - timedelta(minutes=1)).isoformat()
    retried = polku("incident", "retry", str(row["id"]), "--retries", "5", "--at", at, "--vars", '{"copies": 2}',
                    "--note", "new printer", "--by", "ops")
    assert retried.returncode == 0, retried.stderr
    assert "job retried by ops" in retried.stdout

    assert json.loads(polku("incidents", "--json").stdout) == []
    [closed] = json.loads(polku("incidents", "--all", "--json").stdout)
    assert (closed["resolution"], closed["resolvedBy"], closed["note"]) == ("retried", "ops", "new printer")
    assert "retried by ops: new printer" in polku("incidents", "--all").stdout
    assert jobs_of(live, case_id)[0].retries == 5
    [job] = live.fetch_and_lock("w2", [TopicRequest("work")])
    assert (job.id, job.variables["copies"]) == (job_id, 2)
    live.complete_job(job.id, "w2")
    assert open_task_elements(live, case_id) == ["after"]


def test_resolve_and_the_errors_an_operator_can_meet(polku, live: Engine) -> None:
    case_id, _ = failed_job(live)
    [incident] = live.incidents()

    unknown = polku("incident", "retry", "999", "--note", "x", "--by", "ops")
    assert unknown.returncode == 1 and "incident 999 does not exist" in unknown.stderr
    bad_vars = polku("incident", "retry", str(incident.id), "--vars", "[1]", "--note", "x", "--by", "ops")
    assert bad_vars.returncode == 1 and "--vars must be a JSON object" in bad_vars.stderr
    bad_at = polku("incident", "retry", str(incident.id), "--at", "tomorrow", "--note", "x", "--by", "ops")
    assert bad_at.returncode == 1 and "--at" in bad_at.stderr
    assert polku("incident", "resolve", str(incident.id), "--by", "ops").returncode == 2  # --note is required

    resolved = polku("incident", "resolve", str(incident.id), "--note", "printed by hand", "--by", "ops")
    assert resolved.returncode == 0, resolved.stderr
    assert "no open incidents" in polku("incidents").stdout
    again = polku("incident", "retry", str(incident.id), "--note", "x", "--by", "ops")
    assert again.returncode == 1 and "already resolved by ops" in again.stderr
    assert jobs_of(live, case_id)[0].retries == 0


def test_a_failed_timer_is_rearmed_with_fixed_variables_and_fires(polku, live: Engine) -> None:
    live.deploy({"decide.bpmn": wait_then_decide()})
    case_id = live.start("decide", variables={"waitFor": "PT1H"})
    later = utcnow() + timedelta(hours=2)
    assert live.fire_due_timers(later) == 0
    [incident] = live.incidents()
    assert incident.kind == "failedTimer"
    refused = polku("incident", "resolve", str(incident.id), "--note", "x", "--by", "ops")
    assert refused.returncode == 1 and "re-arm" in refused.stderr

    rearmed = polku("incident", "retry", str(incident.id), "--vars", '{"n": 0}', "--note", "n was missing")
    assert rearmed.returncode == 0, rearmed.stderr
    assert "timer re-armed" in rearmed.stdout

    assert live.fire_due_timers(later) == 1
    assert open_task_elements(live, case_id) == ["small"]
    assert live.incident(incident.id).resolved_by  # the OS user when --by is not given
