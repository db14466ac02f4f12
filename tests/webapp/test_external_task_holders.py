"""A job locked by one worker account is that account's: no other account finishes, extends or unlocks it.

Before, account w2 completed w1's job by sending w1's workerId (workerIds are no secret: GET
/external-task showed them), and unlocked it without sending any.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.users import Role
from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.engine.runtime_support import jobs_of, open_task_elements, single_job
from tests.webapp.support import app_client
from tests.webapp.test_engine_rest import Api, assert_error, completions

ACCOUNTS = {"acct1": Role.WORKER, "acct2": Role.WORKER, "root": Role.ADMIN}


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    return app_client(engine, ACCOUNTS)


@pytest.fixture
def held(client: FlaskClient, engine: Engine) -> tuple[str, str]:
    """A case whose job account acct1 has locked as worker "w1": (case id, job id)."""
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = Api(client, "acct1").fetch(worker="w1", lockDuration=60_000)
    return case_id, job["id"]


def actions(job_id: str, worker: str | None) -> dict[str, tuple[str, dict[str, Any]]]:
    base = {"workerId": worker} if worker else {}
    return {
        "complete": (f"/external-task/{job_id}/complete", {**base, "variables": {"by": {"value": "intruder"}}}),
        "failure": (f"/external-task/{job_id}/failure", {**base, "errorMessage": "nope", "retries": 0}),
        "bpmnError": (f"/external-task/{job_id}/bpmnError", {**base, "errorCode": "X"}),
        "extendLock": (f"/external-task/{job_id}/extendLock", {**base, "newDuration": 600_000}),
        "unlock": (f"/external-task/{job_id}/unlock", {}),
    }


def test_another_account_cannot_finish_extend_or_unlock_a_job_even_with_its_worker_id(
        client: FlaskClient, engine: Engine, held: tuple[str, str]) -> None:
    case_id, job_id = held
    before = [(j.lock_owner, j.lock_expires_at, j.retries, j.error_message) for j in jobs_of(engine, case_id)]
    intruder = Api(client, "acct2")

    for name, (path, body) in actions(job_id, "w1").items():
        response = intruder.post(path, body)
        assert_error(response, 400, "BadUserRequestException", "acct2")
        assert "w1" not in response.json["message"], name  # nor does the refusal tell who holds it

    assert [(j.lock_owner, j.lock_expires_at, j.retries, j.error_message) for j in jobs_of(engine, case_id)] == before
    assert completions(engine, case_id) == 0
    # the holder still finishes its own job
    assert Api(client, "acct1").post(f"/external-task/{job_id}/complete",
                                     {"workerId": "w1", "variables": {"by": {"value": "w1"}}}).status_code == 204
    assert engine.case(case_id)["variables"] == {"by": "w1"}
    assert open_task_elements(engine, case_id) == ["after"]


def test_the_holding_account_still_needs_its_own_worker_id(client: FlaskClient, held: tuple[str, str]) -> None:
    _case_id, job_id = held
    holder = Api(client, "acct1")
    assert_error(holder.post(f"/external-task/{job_id}/complete", {"workerId": "w9"}), 400,
                 "BadUserRequestException", "w9")
    assert holder.post(f"/external-task/{job_id}/extendLock", {"workerId": "w1", "newDuration": 1000}
                       ).status_code == 204
    assert holder.post(f"/external-task/{job_id}/unlock").status_code == 204
    [again] = Api(client, "acct2").fetch(worker="w2")  # released: anyone may take it now, as their own
    assert again["id"] == job_id
    assert_error(holder.post(f"/external-task/{job_id}/complete", {"workerId": "w2"}), 400,
                 "BadUserRequestException")


def test_only_the_holding_account_and_admins_see_who_holds_a_job(client: FlaskClient, held: tuple[str, str]) -> None:
    _case_id, job_id = held
    seen = {user: Api(client, user).get(f"/external-task/{job_id}").json for user in ACCOUNTS}
    assert (seen["acct1"]["workerId"], seen["acct1"]["lockExpirationTime"]) == ("w1", "2026-01-05T09:01:00.000+0000")
    assert (seen["root"]["workerId"], seen["root"]["lockExpirationTime"]) == ("w1", "2026-01-05T09:01:00.000+0000")
    assert (seen["acct2"]["workerId"], seen["acct2"]["lockExpirationTime"]) == (None, None)
    assert seen["acct2"]["id"] == job_id and seen["acct2"]["topicName"] == "work"  # the job itself is no secret

    [listed] = Api(client, "acct2").get("/external-task").json
    assert listed["workerId"] is None
    assert Api(client, "acct2").get("/external-task", workerId="w1").json == []  # no probing by workerId either
    assert Api(client, "acct2").get("/external-task/count", workerId="w1").json == {"count": 0}
    assert [t["id"] for t in Api(client, "acct1").get("/external-task", workerId="w1").json] == [job_id]


def test_an_admin_may_release_or_finish_any_job(client: FlaskClient, engine: Engine, held: tuple[str, str]) -> None:
    case_id, job_id = held
    admin = Api(client, "root")
    assert admin.post(f"/external-task/{job_id}/extendLock", {"workerId": "w1", "newDuration": 5000}
                      ).status_code == 204
    assert admin.post(f"/external-task/{job_id}/unlock").status_code == 204
    assert jobs_of(engine, case_id)[0].lock_owner is None


def test_jobs_held_by_the_in_process_worker_are_no_api_accounts(client: FlaskClient, engine: Engine) -> None:
    """`polku worker` locks without an account: an API worker that learns its worker id still cannot finish the job."""
    engine.deploy({"jobs.bpmn": single_job()})
    case_id = engine.start("jobs")
    [job] = engine.fetch_and_lock("host-1-worker", [TopicRequest("work")])
    assert_error(Api(client, "acct1").post(f"/external-task/{job.id}/complete", {"workerId": "host-1-worker"}), 400,
                 "BadUserRequestException")
    assert Api(client, "acct1").post(f"/external-task/{job.id}/unlock").status_code == 400
    engine.complete_job(job.id, "host-1-worker")
    assert open_task_elements(engine, case_id) == ["after"]
