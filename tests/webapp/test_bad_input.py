"""Bad input to /engine-rest is a 400 (404, 413) in Camunda's error shape, never a 500, and changes nothing.

Each case was a 500 (or a silent write that PostgreSQL later refused) before: numbers Python accepts
but JSON columns do not, nesting past the recursion limit, dates that overflow, NUL characters and
lone surrogates, values wider than their column, integers past 64 bits, durations past the year 9999.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.users import Role, add_user
from engine.jobs import TopicRequest
from engine.models import Case, HistoryEvent, Incident, Job, Timer
from engine.runtime import Engine
from tests.diagrams import chain, process
from tests.engine.runtime_support import single_job
from tests.engine.test_runtime_timers import juel_wait
from tests.webapp.support import basic, password_hash
from webapp import create_app

START = "/process-definition/key/jobs/start"
DEEP = "[" * 5000 + "]" * 5000
BIG = 10**15  # ms: 31,000 years; past the last date a database or Python can hold


def job_then_timer() -> bytes:
    """start → prepare (external job) → pause (timer reading ${waitFor}) → resume → end."""
    return process("prepared", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="prepare" name="Prepare" camunda:type="external" camunda:topic="prep"/>
<bpmn:intermediateCatchEvent id="pause" name="Pause">
  <bpmn:timerEventDefinition><bpmn:timeDuration>${waitFor}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="resume" name="Resume"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "prepare", "pause", "resume", "end"))


@dataclass
class World:
    client: FlaskClient
    engine: Engine
    job_id: str  # locked by worker w1

    def send(self, method: str, path: str, body: Any = None, raw: bytes | str | None = None,
             query: dict[str, str] | None = None) -> Any:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.client.open(f"/engine-rest{path}", method=method, data=data, query_string=query,
                                headers={**basic("root"), "Content-Type": "application/json"})


@pytest.fixture
def world(engine: Engine) -> World:
    with engine.db.transaction() as session:
        add_user(session, "root", "Root", [Role.ADMIN], engine.clock()).password_hash = password_hash()
    engine.deploy({"jobs.bpmn": single_job()})
    engine.deploy({"wait.bpmn": juel_wait()})
    engine.start("jobs", "BK-1", {"n": 1})
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work", lock_duration_ms=60_000)], 1)
    client = create_app({"ENGINE": engine, "TESTING": True}).test_client()
    return World(client, engine, job.id)


def stored(engine: Engine) -> dict[str, Any]:
    """Everything a request could have half-written."""
    with engine.db.transaction() as session:
        return {
            "cases": sorted((c.id, c.status, c.version, c.business_key, json.dumps(c.variables, sort_keys=True))
                            for c in session.scalars(select(Case))),
            "jobs": sorted((j.id, j.lock_owner, str(j.lock_expires_at), j.retries, j.error_message,
                            str(j.next_attempt_at)) for j in session.scalars(select(Job))),
            "timers": sorted((t.id, str(t.due_at)) for t in session.scalars(select(Timer))),
            "incidents": len(session.scalars(select(Incident)).all()),
            "history": len(session.scalars(select(HistoryEvent)).all()),
        }


def fetch(worker: str = "w2", lock: Any = 10_000, topic: str = "work") -> dict[str, Any]:
    return {"workerId": worker, "maxTasks": 1, "topics": [{"topicName": topic, "lockDuration": lock}]}


def start_with(value_json: str, name: str = "x") -> str:
    """A start body with one variable whose {value, type} object is given as raw JSON text."""
    return f'{{"variables": {{"{name}": {value_json}}}}}'


Send = Callable[[World], Any]
CASES: dict[str, tuple[Send, int, str]] = {
    # numbers the JSON columns (PostgreSQL) cannot hold, or Python cannot even convert
    "untyped 1e999": (lambda w: w.send("POST", START, raw=start_with('{"value": 1e999}')), 400, "too large"),
    "untyped -1e999": (lambda w: w.send("POST", START, raw=start_with('{"value": -1e999}')), 400, "too large"),
    "untyped NaN": (lambda w: w.send("POST", START, raw=start_with('{"value": NaN}')), 400, "NaN"),
    "untyped Infinity": (lambda w: w.send("POST", START, raw=start_with('{"value": -Infinity}')), 400, "Infinity"),
    "untyped 5,000 digits": (lambda w: w.send("POST", START, raw=start_with('{"value": ' + "7" * 5000 + "}")),
                             400, "64-bit"),
    "Json with NaN": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "[1, NaN]", "type": "Json"}}}),
                      400, "NaN"),
    "Json with Infinity": (lambda w: w.send("POST", START, {"variables": {"x": {"value": '{"a": Infinity}',
                                                                              "type": "Json"}}}), 400, "Infinity"),
    "Double 1e999 as text": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "1e999",
                                                                                 "type": "Double"}}}), 400, "Double"),
    "Long of 5,000 digits": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "7" * 5000,
                                                                                 "type": "Long"}}}), 400, "Long"),
    # nesting past the interpreter's recursion limit
    "body nested 5,000 levels": (lambda w: w.send("POST", START, raw=start_with('{"value": ' + DEEP + "}")),
                                 400, "nested"),
    "Json nested 5,000 levels": (lambda w: w.send("POST", START, {"variables": {"x": {"value": DEEP,
                                                                                     "type": "Json"}}}),
                                 400, "nested"),
    "message body nested": (lambda w: w.send("POST", "/message", raw='{"messageName": ' + DEEP + "}"), 400, "nested"),
    # dates that exist in one zone but not in UTC
    "Date of year 1 at +14:00": (lambda w: w.send("POST", START, {"variables": {"x": {
        "value": "0001-01-01T00:00:00.000+1400", "type": "Date"}}}), 400, "range of dates"),
    "Date of year 9999 at -14:00": (lambda w: w.send("POST", START, {"variables": {"x": {
        "value": "9999-12-31T23:00:00.000-1400", "type": "Date"}}}), 400, "range of dates"),
    # NUL (PostgreSQL text refuses it) and lone surrogates (no UTF-8 exists for them)
    "NUL in businessKey": (lambda w: w.send("POST", START, {"businessKey": "BK\x00"}), 400, "NUL"),
    "NUL in a variable value": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "a\x00b"}}}),
                                400, "NUL"),
    "NUL in a variable name": (lambda w: w.send("POST", START, {"variables": {"x\x00": {"value": 1}}}), 400, "NUL"),
    "NUL in a Json value": (lambda w: w.send("POST", START, {"variables": {"x": {"value": '["\\u0000"]',
                                                                                "type": "Json"}}}), 400, "NUL"),
    "NUL in workerId": (lambda w: w.send("POST", "/external-task/fetchAndLock", fetch("w\x00")), 400, "NUL"),
    "NUL in errorMessage": (lambda w: w.send("POST", f"/external-task/{w.job_id}/failure",
                                             {"workerId": "w1", "errorMessage": "boom\x00"}), 400, "NUL"),
    "NUL in messageName": (lambda w: w.send("POST", "/message", {"messageName": "reply\x00"}), 400, "NUL"),
    "lone surrogate in businessKey": (lambda w: w.send("POST", START, raw='{"businessKey": "BK\\ud800"}'),
                                      400, "surrogate"),
    "lone surrogate in a variable": (lambda w: w.send("POST", START, raw=start_with('{"value": "\\udfff"}')),
                                     400, "surrogate"),
    "surrogate as UTF-8 bytes": (lambda w: w.send("POST", START, raw=b'{"businessKey": "\xed\xa0\x80"}'),
                                 400, "surrogate"),  # json.loads decodes bytes with surrogatepass
    "bytes that are not UTF-8": (lambda w: w.send("POST", START, raw=b'{"businessKey": "\xff"}'), 400, "UTF-8"),
    "NUL in a path segment": (lambda w: w.send("GET", "/process-instance/a%00b"), 400, "NUL"),
    "NUL in a job id": (lambda w: w.send("POST", f"/external-task/{w.job_id}%00/complete", {"workerId": "w1"}),
                        400, "NUL"),
    "NUL in an unknown path": (lambda w: w.send("GET", "/no/such%00thing"), 400, "NUL"),
    "NUL in a query value": (lambda w: w.send("GET", "/external-task", query={"topicName": "work\x00"}), 400, "NUL"),
    "NUL in a task query": (lambda w: w.send("GET", "/task", query={"processInstanceBusinessKey": "\x00"}),
                            400, "NUL"),
    "NUL in a query name": (lambda w: w.send("GET", "/external-task?topic%00Name=work"), 400, "NUL"),
    # values wider than their column
    "1 MB businessKey on start": (lambda w: w.send("POST", START, {"businessKey": "K" * 1_000_000}), 400,
                                  "at most 200"),
    "1 MB businessKey on a message": (lambda w: w.send("POST", "/message", {"messageName": "m",
                                                                           "businessKey": "K" * 1_000_000}),
                                      400, "at most 200"),
    "workerId wider than its column": (lambda w: w.send("POST", "/external-task/fetchAndLock", fetch("w" * 201)),
                                       400, "at most 200"),
    # integers past the database's range
    "firstResult past 64 bits": (lambda w: w.send("GET", "/external-task", query={"firstResult": str(2**64)}),
                                 400, "firstResult"),
    "maxResults past 64 bits": (lambda w: w.send("GET", "/external-task", query={"maxResults": str(2**64)}),
                                400, "maxResults"),
    "maxResults of 5,000 digits": (lambda w: w.send("GET", "/task", query={"maxResults": "9" * 5000}),
                                   400, "maxResults"),
    "firstResult past 32 bits on tasks": (lambda w: w.send("GET", "/task", query={"firstResult": str(2**40)}),
                                          400, "firstResult"),
    "definition id past 64 bits": (lambda w: w.send("POST", f"/process-definition/jobs:1:{2**70}/start", {}),
                                   404, "No matching process definition"),
    "definition id of unicode digits": (lambda w: w.send("POST", "/process-definition/jobs:1:\u00b2/start", {}),
                                        404, "No matching process definition"),
    "retries past the integer range": (lambda w: w.send("POST", f"/external-task/{w.job_id}/failure",
                                                        {"workerId": "w1", "retries": 2**40}), 400, "retries"),
    "maxTasks past 64 bits": (lambda w: w.send("POST", "/external-task/fetchAndLock",
                                               raw=json.dumps(fetch()).replace('"maxTasks": 1',
                                                                               '"maxTasks": ' + str(2**64))),
                              400, "64-bit"),
    # durations whose end lies past the year 9999
    "lockDuration 10^15": (lambda w: w.send("POST", "/external-task/fetchAndLock", fetch(lock=BIG)), 400,
                           "lockDuration"),
    "lockDuration past 64 bits": (lambda w: w.send("POST", "/external-task/fetchAndLock", fetch(lock=2**70)),
                                  400, "64-bit"),
    "retryTimeout 10^15": (lambda w: w.send("POST", f"/external-task/{w.job_id}/failure",
                                            {"workerId": "w1", "retries": 1, "retryTimeout": BIG}),
                           400, "retryTimeout"),
    "newDuration 10^15": (lambda w: w.send("POST", f"/external-task/{w.job_id}/extendLock",
                                           {"workerId": "w1", "newDuration": BIG}), 400, "newDuration"),
    # a duration variable the first timer reads: the start is refused, no case is left behind
    "timer duration P99999999D": (lambda w: w.send("POST", "/process-definition/key/wait/start",
                                                   {"variables": {"waitFor": {"value": "P99999999D"}}}),
                                  400, "P99999999D"),
    "timer duration garbage": (lambda w: w.send("POST", "/process-definition/key/wait/start",
                                                {"variables": {"waitFor": {"value": "garbage",
                                                                           "type": "String"}}}),
                               400, "garbage"),
    # sizes
    "body over the 1 MB limit": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "y" * 1_100_000}}}),
                                 413, "limit"),
    "a variable over its size limit": (lambda w: w.send("POST", START, {"variables": {"x": {"value": "y" * 200_000}}}),
                                       400, "at most 102400 bytes"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_in_camunda_shape_and_changes_nothing(world: World, name: str) -> None:
    send, status, text = CASES[name]
    before = stored(world.engine)

    response = send(world)

    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert set(body) == {"type", "message"}, body
    assert body["type"] == "InvalidRequestException", body
    assert text in body["message"], body
    assert len(body["message"]) < 400  # a 1 MB input is not echoed back
    assert stored(world.engine) == before


def test_a_body_without_content_length_is_held_to_the_limit_too(world: World) -> None:
    """Chunked uploads carry no Content-Length: the limit is enforced while reading."""
    import io

    payload = json.dumps({"variables": {"x": {"value": "y" * 1_100_000}}}).encode()
    before = stored(world.engine)
    response = world.client.post(f"/engine-rest{START}", input_stream=io.BytesIO(payload),
                                 headers={**basic("root"), "Content-Type": "application/json",
                                          "Transfer-Encoding": "chunked"},
                                 environ_overrides={"wsgi.input_terminated": True})  # as servers mark chunked input
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.get_json()["type"] == "InvalidRequestException"
    assert stored(world.engine) == before


def test_the_limits_follow_the_settings(engine: Engine) -> None:
    with engine.db.transaction() as session:
        add_user(session, "root", "Root", [Role.ADMIN], engine.clock()).password_hash = password_hash()
    engine.deploy({"jobs.bpmn": single_job()})
    client = create_app({"ENGINE": engine, "TESTING": True, "MAX_CONTENT_LENGTH": 2_000,
                         "MAX_VARIABLE_BYTES": 100}).test_client()
    headers = basic("root")

    def start(value: str) -> Any:
        return client.post(f"/engine-rest{START}", json={"variables": {"note": {"value": value}}}, headers=headers)

    assert start("y" * 98).status_code == 200  # 100 bytes as JSON, quotes included
    assert start("y" * 99).status_code == 400
    assert start("ä" * 48).status_code == 200  # counted in UTF-8 bytes: 96 + 2
    assert start("ä" * 50).status_code == 400
    assert start("y" * 3_000).status_code == 413


def test_good_values_near_the_limits_are_accepted(world: World) -> None:
    """The refusals above are limits, not a new strictness: values just inside them work as before."""
    started = world.send("POST", START, {
        "businessKey": "K" * 200,
        "variables": {"big": {"value": 2**63 - 1}, "small": {"value": -(2**63)}, "pi": {"value": 3.14159},
                      "deep": {"value": json.dumps([[[[1]]]]), "type": "Json"},
                      "day": {"value": "0001-01-02T00:00:00.000+1400", "type": "Date"},
                      "text": {"value": "äö € 𝄞 tab\there"}}})
    assert started.status_code == 200, started.json
    variables = world.engine.case(started.json["id"])["variables"]
    assert variables["big"] == 2**63 - 1 and variables["deep"] == [[[[1]]]] and variables["text"].endswith("here")

    locked = world.send("POST", "/external-task/fetchAndLock", fetch(lock=365 * 86_400_000))
    assert locked.status_code == 200 and len(locked.json) == 1
    assert world.send("GET", "/external-task", query={"firstResult": "0", "maxResults": str(2**31 - 1)}).status_code \
        == 200
    waiting = world.send("POST", "/process-definition/key/wait/start", {"variables": {"waitFor": {"value": "P30D"}}})
    assert waiting.status_code == 200


def test_a_worker_completing_with_an_unusable_duration_breaks_nothing(world: World) -> None:
    """The job's variables feed the next timer: the request is refused (the case unchanged, the attempt counted
    on the job) or the case gets an incident at the timer — never a 500 and never a case stuck without either."""
    world.engine.deploy({"prepared.bpmn": job_then_timer()})
    case_id = world.engine.start("prepared")
    [job] = world.engine.fetch_and_lock("w1", [TopicRequest("prep", lock_duration_ms=60_000)], 1)
    before = stored(world.engine)

    response = world.send("POST", f"/external-task/{job.id}/complete",
                          {"workerId": "w1", "variables": {"waitFor": {"value": "P99999999D"}}})

    assert response.status_code in (204, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.json["type"] == "InvalidRequestException" and "P99999999D" in response.json["message"]
        after = stored(world.engine)
        assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in before.items() if k != "jobs"}
        [row] = [j for j in after["jobs"] if j[0] == job.id]
        assert (row[1], row[3]) == (None, 2) and "P99999999D" in row[4]  # released, one retry used, error kept
    else:
        with world.engine.db.transaction() as session:
            assert session.scalars(select(Incident).where(Incident.case_id == case_id)).all()
