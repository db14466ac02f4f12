"""A worker whose result cannot be stored logs the job id and the failure, never the variables or the SQL parameters."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from engine.runtime import Engine
from tests.conftest import wait_for
from tests.engine.runtime_support import deploy_start, single_job
from tests.webapp.test_internal_errors import CANARY_CODE, CANARY_NAME, refuse_rows_containing
from tests.workers.test_runner import make_runner, running
from workers.handler import HandlerRegistry, JobContext


def test_a_result_the_database_refuses_is_logged_without_its_values(engine: Engine,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    deploy_start(engine, single_job(topic="work"), "jobs", "BK-1")
    refuse_rows_containing(engine, "Varoitusmerkki")
    registry = HandlerRegistry()

    @registry.handler("work")
    def work(job: JobContext) -> dict[str, Any]:
        return {"clientName": CANARY_NAME, "referralNote": f"henkilötunnus {CANARY_CODE}"}

    caplog.set_level(logging.DEBUG)
    [job_id] = [j["id"] for j in engine.external_jobs()]
    with running(make_runner(engine, registry)):
        wait_for(lambda: any(r.levelno >= logging.WARNING and job_id in r.getMessage() for r in caplog.records),
                 "the worker to log the failed report")

    logged = caplog.text
    assert job_id in logged
    for leak in (CANARY_NAME, CANARY_CODE, "Varoitusmerkki", "parameters:", "Failing row"):
        assert leak not in logged
