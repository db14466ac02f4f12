"""The worker runner against a real engine: outcomes, retries, time limits, locks, stopping, SIGTERM."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.db import Database
from engine.jobs import TopicRequest
from engine.runtime import Engine
from polku.settings import Settings
from tests.conftest import WAIT, wait_for
from tests.engine.runtime_support import deploy_start, incidents_of, jobs_of, open_task_elements, single_job
from tests.engine.test_runtime_jobs import error_boundary
from workers import builtins
from workers.handler import BpmnError, Failure, HandlerRegistry, JobContext
from workers.outcome import Completed, report
from workers.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
POLKU = Path(sys.executable).with_name("polku")




@contextmanager
def running(runner: Runner) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        runner.stop()
        thread.join(WAIT)
        assert not thread.is_alive()


def make_runner(engine: Engine, registry: HandlerRegistry, **options: Any) -> Runner:
    options.setdefault("idle_max_s", 0.1)
    return Runner(engine, registry, worker_id=options.pop("worker_id", "w1"), **options)


def test_registry_refuses_a_topic_registered_twice() -> None:
    registry = HandlerRegistry()
    registry.register("mail", lambda job: None)
    with pytest.raises(ValueError, match="mail"):
        registry.register("mail", lambda job: None)
    assert registry.topics() == ["mail"] and "mail" in registry and len(registry) == 1


def test_runner_refuses_topics_without_handlers(engine: Engine) -> None:
    with pytest.raises(ValueError, match="no topics"):
        Runner(engine, HandlerRegistry())
    registry = HandlerRegistry()
    registry.register("mail", lambda job: None)
    with pytest.raises(ValueError, match="print"):
        Runner(engine, registry, topics=["mail", "print"])


def test_returned_variables_advance_the_case(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(topic="work"), "jobs", "BK-1", {"n": 1})
    registry = HandlerRegistry()
    seen: list[JobContext] = []

    @registry.handler("work")
    def work(job: JobContext) -> dict[str, Any]:
        seen.append(job)
        return {"n": job.variables["n"] + 1, "by": job.business_key}

    with running(make_runner(engine, registry)):
        wait_for(lambda: open_task_elements(engine, case_id) == ["after"], message="the case to advance")

    assert engine.case(case_id)["variables"] == {"n": 2, "by": "BK-1"}
    [job] = seen
    assert (job.topic, job.case_id, job.business_key, job.retries) == ("work", case_id, "BK-1", None)


def test_failure_counts_retries_down_with_back_off_then_opens_an_incident(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, single_job(topic="mail"), "jobs")
    registry = HandlerRegistry()
    retries_seen: list[int | None] = []

    @registry.handler("mail")
    def mail(job: JobContext) -> None:
        retries_seen.append(job.retries)
        raise Failure("smtp down", details="421 try later")

    def job_row() -> Any:
        [row] = jobs_of(engine, case_id)
        return row

    with running(make_runner(engine, registry)):
        wait_for(lambda: job_row().retries == 2, message="the first failure")
        row = job_row()
        assert (row.error_message, row.error_details, row.lock_owner) == ("smtp down", "421 try later", None)
        assert row.next_attempt_at.replace(tzinfo=None) == (clock.now + timedelta(seconds=10)).replace(tzinfo=None)
        clock.advance(seconds=10)
        wait_for(lambda: job_row().retries == 1, message="the second failure")
        clock.advance(seconds=20)
        wait_for(lambda: incidents_of(engine, case_id), message="the incident")

    assert job_row().retries == 0
    [incident] = incidents_of(engine, case_id)
    assert (incident.kind, incident.message, incident.element_id) == ("failedExternalTask", "smtp down", "work")
    assert retries_seen == [None, 2, 1]
    assert open_task_elements(engine, case_id) == []


def test_bpmn_error_is_caught_by_the_boundary_event(engine: Engine) -> None:
    case_id = deploy_start(engine, error_boundary(), "consent")
    registry = HandlerRegistry()

    @registry.handler("consent")
    def consent(job: JobContext) -> None:
        raise BpmnError("NO_CONSENT", "client has not consented", {"reason": "declined"})

    with running(make_runner(engine, registry)):
        wait_for(lambda: open_task_elements(engine, case_id) == ["ask_consent"], message="the boundary path")

    assert jobs_of(engine, case_id) == []
    assert engine.case(case_id)["variables"]["reason"] == "declined"


def test_unexpected_exception_is_a_failure_with_the_traceback(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(topic="work"), "jobs")
    registry = HandlerRegistry()

    @registry.handler("work")
    def work(job: JobContext) -> None:
        raise KeyError("template")

    with running(make_runner(engine, registry)):
        wait_for(lambda: jobs_of(engine, case_id)[0].retries == 2, message="the failure")

    [row] = jobs_of(engine, case_id)
    assert row.error_message == "KeyError: 'template'"
    assert "Traceback" in row.error_details and 'raise KeyError("template")' in row.error_details
    assert open_task_elements(engine, case_id) == []


def test_a_handler_past_its_time_limit_fails_and_its_late_result_is_dropped(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(topic="work"), "jobs")
    registry = HandlerRegistry()
    release, finished = threading.Event(), threading.Event()

    @registry.handler("work")
    def work(job: JobContext) -> dict[str, Any]:
        release.wait(WAIT)
        finished.set()
        return {"late": True}

    with running(make_runner(engine, registry, time_limit_s=0.2)):
        wait_for(lambda: jobs_of(engine, case_id)[0].retries == 2, message="the time-out failure")
        release.set()
        wait_for(finished.is_set, message="the slow handler to return")

    [row] = jobs_of(engine, case_id)
    assert "time limit" in row.error_message
    assert open_task_elements(engine, case_id) == []
    assert "late" not in engine.case(case_id)["variables"]


def test_lock_extension_keeps_a_slow_job_from_a_second_runner(database_url: str) -> None:
    db = Database(database_url)
    engine = Engine(db)  # the real clock: locks must really run out without the extension
    try:
        case_id = deploy_start(engine, single_job(topic="work"), "jobs")
        started, second_ran = threading.Event(), []
        slow, other = HandlerRegistry(), HandlerRegistry()

        @slow.handler("work")
        def work_slowly(job: JobContext) -> dict[str, Any]:
            started.set()
            time.sleep(1.5)  # well past the 0.4 s lock, so only the extension keeps it
            return {"by": "slow"}

        @other.handler("work")
        def work_again(job: JobContext) -> dict[str, Any]:
            second_ran.append(job.id)
            return {"by": "other"}

        with running(make_runner(engine, slow, worker_id="slow", lock_ms=400)):
            wait_for(started.is_set, message="the slow handler to start")
            with running(make_runner(engine, other, worker_id="other", lock_ms=400)):
                wait_for(lambda: open_task_elements(engine, case_id) == ["after"], message="the completion")

        assert second_ran == []
        assert engine.case(case_id)["variables"] == {"by": "slow"}
    finally:
        db.dispose()


def test_stop_lets_the_running_handler_finish_and_unlocks_the_jobs_not_started(engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job(topic="work")})
    cases = [engine.start("jobs", f"BK-{i}") for i in range(3)]
    registry = HandlerRegistry()
    started: list[str] = []
    release = threading.Event()

    @registry.handler("work")
    def work(job: JobContext) -> dict[str, Any]:
        started.append(job.case_id)
        release.wait(WAIT)
        return {"done": True}

    runner = make_runner(engine, registry, concurrency=1, batch=3)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    wait_for(lambda: started, message="a handler to start")
    runner.stop()
    release.set()
    thread.join(WAIT)
    assert not thread.is_alive()

    [first] = started
    assert open_task_elements(engine, first) == ["after"]
    rest = [c for c in cases if c != first]
    assert all(jobs_of(engine, c)[0].lock_owner is None for c in rest)
    again = engine.fetch_and_lock("w2", [TopicRequest("work")])
    assert sorted(j.case_id for j in again) == sorted(rest)


def test_a_completion_after_the_lock_was_lost_is_dropped_not_retried(engine: Engine, clock, caplog) -> None:
    case_id = deploy_start(engine, single_job(topic="work"), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work", lock_duration_ms=1000)])
    clock.advance(seconds=2)
    [taken] = engine.fetch_and_lock("w2", [TopicRequest("work")])
    engine.complete_job(taken.id, "w2", {"by": "w2"})

    report(engine, job.id, "w1", Completed({"by": "w1"}))  # logs, never raises, never fails the job

    assert "result dropped" in caplog.text
    assert engine.case(case_id)["variables"] == {"by": "w2"}
    assert open_task_elements(engine, case_id) == ["after"]


def test_embedded_serve_runs_the_registered_handlers_in_the_background(engine: Engine, monkeypatch, tmp_path) -> None:
    from polku.embedded import start_workers

    settings = Settings("sqlite://", tmp_path, "127.0.0.1", 5000, "a-test-secret-of-32-characters!!")
    monkeypatch.setattr(builtins, "registry", HandlerRegistry())
    monkeypatch.setattr(builtins, "BUILTIN_MODULES", ())  # only the test's own handler module
    assert start_workers(engine, settings) is None  # nothing registered: no runner

    monkeypatch.delitem(sys.modules, "tests.workers.sample_handlers", raising=False)
    case_id = deploy_start(engine, single_job(topic="slow"), "jobs", "BK-1", {"marker_dir": str(tmp_path), "sleep": 0})
    with_handlers = dataclasses.replace(settings, handler_modules=("tests.workers.sample_handlers",))
    runner = start_workers(engine, with_handlers)
    assert runner is not None and runner.topics == ["slow"]
    try:
        wait_for(lambda: open_task_elements(engine, case_id) == ["after"], message="the embedded worker")
    finally:
        runner.stop()
        assert runner.stopped.wait(WAIT)


def test_polku_worker_exits_cleanly_on_sigterm(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    engine = Engine(db)
    try:
        engine.deploy({"jobs.bpmn": single_job(topic="slow")})
        variables = {"marker_dir": str(tmp_path), "sleep": 1.0}
        cases = {bk: engine.start("jobs", bk, variables) for bk in ("BK-1", "BK-2")}
        env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!",
               "POLKU_HANDLER_MODULES": "tests.workers.sample_handlers",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen([str(POLKU), "worker", "--topics", "slow", "--concurrency", "1", "--grace", "20"],
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            marker = wait_for(lambda: list(tmp_path.glob("*.started")), timeout=60, message="the handler to start")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err

        [started] = marker
        first = cases[started.name.removesuffix(".started")]
        assert open_task_elements(engine, first) == ["after"]
        assert engine.case(first)["variables"]["slept"] is True
        [other] = [c for c in cases.values() if c != first]
        assert jobs_of(engine, other)[0].lock_owner is None  # fetched, never started, released
        assert [j.case_id for j in engine.fetch_and_lock("w2", [TopicRequest("slow")])] == [other]
    finally:
        db.dispose()
