"""Camunda's own Python external task client against `polku serve`, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from casework.users import Role, add_user, issue_token
from engine.db import Database
from engine.runtime import Engine
from tests.conftest import wait_for
from tests.diagrams import chain, process
from tests.engine.runtime_support import incidents_of

with warnings.catch_warnings():  # the client still uses pydantic's v1-style validators
    warnings.simplefilter("ignore", DeprecationWarning)
    from camunda.external_task.external_task import ExternalTask
    from camunda.external_task.external_task_worker import ExternalTaskWorker

ROOT = Path(__file__).resolve().parents[2]
POLKU = Path(sys.executable).with_name("polku")
PASSWORD = "a worker's long password"
WAIT = 60.0

SERVICE = process("service", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="test-topic"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "work", "end"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




class StoppableWorker(ExternalTaskWorker):
    """Camunda's worker unchanged, except that its endless subscribe loop can be told to end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()

    def subscribe(self, topic_names: Any, action: Any, process_variables: Any = None, variables: Any = None) -> None:
        while not self.stopping.is_set():
            self._fetch_and_execute_safe(topic_names, action, process_variables, variables)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    """`polku serve --no-demo` on a free port; yields its /engine-rest base URL."""
    bpmn_dir = tmp_path / "bpmn"
    bpmn_dir.mkdir()
    port = free_port()
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_PORT": str(port), "POLKU_HOST": "127.0.0.1",
           "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!", "POLKU_BPMN_DIR": str(bpmn_dir),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("POLKU_HANDLER_MODULES", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(POLKU), "serve", "--no-demo"], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            return requests.get(f"{base}/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, "polku serve to answer", timeout=WAIT, interval=0.1)
        yield f"{base}/engine-rest"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_camunda_external_task_client_completes_the_cases(database_url: str, server: str) -> None:
    db = Database(database_url)
    engine = Engine(db)
    try:
        engine.deploy({"service.bpmn": SERVICE})
        with db.transaction() as session:
            add_user(session, "bot", "Worker bot", [Role.WORKER], engine.clock()).set_password(PASSWORD)
            _, token = issue_token(session, "bot", engine.clock(), "second worker")
        cases = {n: engine.start("service", f"BK-{n}", {"n": n}) for n in range(5)}

        seen: list[str] = []

        def handle(task: ExternalTask) -> Any:
            seen.append(task.get_task_id())
            n = task.get_variable("n")
            if n == 4:
                return task.failure("cannot do 4", "details of 4", max_retries=0, retry_timeout=1000)
            return task.complete({"doubled": n * 2, "worker": task.get_worker_id(), "bk": task.get_business_key()})

        common = {"maxTasks": 2, "lockDuration": 30_000, "asyncResponseTimeout": 1000, "sleepSeconds": 0.2}
        workers = [StoppableWorker("camunda-basic", server, {**common, "auth_basic": {"username": "bot",
                                                                                       "password": PASSWORD}}),
                   StoppableWorker("camunda-bearer", server, {**common, "auth_bearer": {"access_token": token}})]
        threads = [threading.Thread(target=w.subscribe, args=("test-topic", handle), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: all(engine.case(cases[n])["status"] == "completed" for n in range(4))
                     and incidents_of(engine, cases[4]), "the client to work off the cases")
        finally:
            for worker in workers:
                worker.stopping.set()
            for thread in threads:
                thread.join(10)

        for n in range(4):
            variables = engine.case(cases[n])["variables"]
            assert (variables["n"], variables["doubled"], variables["bk"]) == (n, n * 2, f"BK-{n}")
            assert variables["worker"] in ("camunda-basic", "camunda-bearer")
        assert engine.case(cases[4])["status"] == "active"
        [incident] = incidents_of(engine, cases[4])
        assert incident.message == "cannot do 4"
        assert len(seen) == len(set(seen)) == 5  # every job handled exactly once
        assert not any(t.is_alive() for t in threads)

        unauthorized = requests.post(f"{server}/external-task/fetchAndLock", json={"workerId": "x", "maxTasks": 1},
                                     timeout=10)
        assert unauthorized.status_code == 401 and "WWW-Authenticate" in unauthorized.headers
    finally:
        db.dispose()
