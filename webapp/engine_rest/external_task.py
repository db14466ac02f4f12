"""External tasks as Camunda 7's REST API has them: fetch-and-lock with long polling, complete, fail, ...

A job is locked for the account that fetched it: only that account's worker (the same workerId) may
complete, fail, extend or unlock it, and only that account sees who holds it; an admin may do all of it.
A result that cannot be stored counts as a failed attempt of the job, whether the engine refuses it
(a duration the next timer cannot use) or this API does (a NaN), so a worker cannot loop on it for ever.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify, request

from engine.errors import Conflict, ExpressionError, NotFound, OutcomeNotStored
from engine.jobs import TopicRequest
from webapp.engine_rest.auth import Scope
from webapp.engine_rest.blueprint import (
    MAX_DURATION_MS,
    USER_ID_LENGTH,
    body,
    caller,
    caused_by,
    engine,
    field,
    log_variables_shown,
    query_args,
    query_bool,
    query_int,
    route,
    unsupported,
    variables_sent,
)
from webapp.engine_rest.errors import BadUserRequest, InvalidRequest, Missing, RestError
from webapp.engine_rest.json_input import bad_text
from webapp.engine_rest.variables import format_date, plain_map, typed_map

MAX_ASYNC_TIMEOUT_MS = 1_800_000  # Camunda's limit: 30 minutes
POLL_INTERVAL_S = 0.2  # how often a waiting fetch asks the engine again
MAX_TASKS = 1000


def definition_id(job_or_case: dict[str, Any]) -> str:
    """Camunda's key:version:id form of a definition id."""
    key = job_or_case.get("definitionKey") or job_or_case.get("key")
    version = job_or_case.get("definitionVersion") or job_or_case.get("version")
    return f"{key}:{version}:{job_or_case['definitionId']}"


def task_json(job: dict[str, Any]) -> dict[str, Any]:
    """A job in Camunda's shape; who holds its lock (workerId, lockExpirationTime) only for the holder's account."""
    shown = job["workerId"] is not None and (_account() is None or job.get("lockAccount") == _account())
    return {
        "activityId": job["elementId"], "activityInstanceId": f"{job['elementId']}:{job['id']}",
        "errorMessage": job["errorMessage"], "errorDetails": job["errorDetails"], "executionId": job["id"],
        "id": job["id"], "lockExpirationTime": format_date(job["lockExpiresAt"]) if shown else None,
        "processDefinitionId": definition_id(job), "processDefinitionKey": job["definitionKey"],
        "processDefinitionVersionTag": None, "processInstanceId": job["caseId"], "retries": job["retries"],
        "suspended": job["suspended"], "topicName": job["topic"], "workerId": job["workerId"] if shown else None,
        "tenantId": None, "businessKey": job["businessKey"], "priority": job["priority"],
        "createTime": format_date(job["createdAt"]),
    }


def _account() -> str | None:
    """The account whose jobs the caller may act on and see the holders of; None for an admin (any job's)."""
    who = caller()
    return None if Scope.ADMIN in who.scopes() else who.user_id


# -- fetch and lock ------------------------------------------------------------------------------
def _topic(entry: Any, index: int) -> TopicRequest:
    if not isinstance(entry, dict):
        raise InvalidRequest(f"topics[{index}] must be an object")
    unsupported(entry, "processDefinitionId", "processDefinitionIdIn", "processDefinitionKeyIn",
                "processDefinitionVersionTag", "tenantIdIn", "processVariables")
    name = field(entry, "topicName", str, required=True)
    lock = field(entry, "lockDuration", int, required=True, minimum=1, maximum=MAX_DURATION_MS)
    names = field(entry, "variables", list)
    if names is not None and not all(isinstance(n, str) for n in names):
        raise InvalidRequest(f"topics[{index}].variables must be a list of variable names")
    return TopicRequest(name=name, lock_duration_ms=lock, variables=names,
                        process_definition_key=field(entry, "processDefinitionKey", str),
                        business_key=field(entry, "businessKey", str))


@route("/external-task/fetchAndLock", Scope.EXTERNAL_TASK, methods=["POST"])
def fetch_and_lock() -> Response:
    """Lock jobs for the worker; with asyncResponseTimeout, wait (polling the engine) until some appear."""
    data = body()
    unsupported(data, "sorting")
    worker_id = field(data, "workerId", str, required=True, max_length=USER_ID_LENGTH)
    max_tasks = field(data, "maxTasks", int, required=True, minimum=0, maximum=MAX_TASKS)
    use_priority = field(data, "usePriority", bool, default=False)
    timeout_ms = field(data, "asyncResponseTimeout", int, default=0, minimum=0, maximum=MAX_ASYNC_TIMEOUT_MS)
    raw_topics = field(data, "topics", list, default=[])
    topics = [_topic(entry, i) for i, entry in enumerate(raw_topics)]
    runtime = engine()
    deadline = time.monotonic() + timeout_ms / 1000
    locked: list[Any] = []
    while max_tasks and topics:
        locked = runtime.fetch_and_lock(worker_id, topics, max_tasks, use_priority, account=caller().user_id)
        left = deadline - time.monotonic()
        if locked or left <= 0:
            break
        time.sleep(min(POLL_INTERVAL_S, left))
    if not locked:
        if not (max_tasks and topics):  # nothing can ever match: still honour the wait, as Camunda does
            time.sleep(max(0.0, deadline - time.monotonic()))
        return jsonify([])
    details = {j["id"]: j for j in runtime.external_jobs(job_ids=[j.id for j in locked])}
    out = []
    for job in locked:
        row = details.get(job.id)
        if row is None:  # vanished between the lock and this read (case cancelled): not the worker's any more
            continue
        item = task_json(row)
        item.update(workerId=worker_id, lockExpirationTime=format_date(job.lock_expires_at), extensionProperties={},
                    variables=typed_map(job.variables))
        out.append(item)
    log_variables_shown([job.case_id for job in locked if job.variables], "external task variables")
    return jsonify(out)


# -- reporting back --------------------------------------------------------------------------
def _on_job(job_id: str, action: Callable[[], Any]) -> Any:
    """Run a job action; a job that is gone is 404, one held by someone else (or lost) is 400.

    A result the engine could not store was counted as a failed attempt: 400 when the variables sent
    are what could not be used or stored, else Camunda's 500 ProcessEngineException.
    """
    try:
        return action()
    except NotFound:
        raise Missing(f"External task with id {job_id} does not exist") from None
    except Conflict as err:
        if not engine().external_jobs(job_ids=[job_id]):
            raise Missing(f"External task with id {job_id} does not exist any more: {err}") from None
        raise BadUserRequest(str(err)) from None
    except OutcomeNotStored as err:
        # the database's own words quote the row and name its internals: the body says only what failed
        reason = "the database refused a value of the result" if err.by_database else err.message
        message = f"External task {job_id}: the result could not be stored: {reason}{_counted(err.retries_left)}"
        if variables_sent() and (err.by_database or caused_by(err, ExpressionError)):
            raise InvalidRequest(message) from None
        raise RestError(message, 500, "ProcessEngineException") from None


def _counted(retries_left: int) -> str:
    if retries_left == 0:
        return "; counted as a failed attempt: no retries left, an incident was opened"
    return f"; counted as a failed attempt: {retries_left} {'retry' if retries_left == 1 else 'retries'} left"


def _worker(data: dict[str, Any]) -> str:
    return field(data, "workerId", str, required=True, max_length=USER_ID_LENGTH)


@contextmanager
def _result_checked(job_id: str) -> Iterator[None]:
    """Read a worker's result; one refused here (a NaN, an unknown type, a value too large) is a failed attempt.

    Otherwise a worker whose handler produced such a value would send it after every lock expiry, for
    ever. The attempt is charged only to a worker that can still be told from the body and holds the job.
    """
    try:
        yield
    except InvalidRequest as err:
        worker_id = _worker_in_refused_body()
        if worker_id is None:
            raise
        try:
            outcome = engine().fail_job(job_id, worker_id, f"the result was refused: {err.message}",
                                        account=_account())
        except (Conflict, NotFound):
            raise err from None
        err.message += _counted(outcome.retries_left)
        raise


def _worker_in_refused_body() -> str | None:
    """The workerId of a body refused as a whole (a NaN makes it not JSON), read leniently; None if unreadable."""
    try:
        data = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):  # not JSON even for Python, digits past the limit, nested too deep
        return None
    worker_id = data.get("workerId") if isinstance(data, dict) else None
    if not isinstance(worker_id, str) or not worker_id.strip() or len(worker_id) > USER_ID_LENGTH:
        return None
    return worker_id if bad_text(worker_id) is None else None


@route("/external-task/<job_id>/complete", Scope.EXTERNAL_TASK, methods=["POST"])
def complete(job_id: str) -> tuple[str, int]:
    with _result_checked(job_id):
        data = body()
        worker_id = _worker(data)
        variables = plain_map(data.get("variables"))
        plain_map(data.get("localVariables"), "localVariables")  # checked; like Camunda, they end with the task
    _on_job(job_id, lambda: engine().complete_job(job_id, worker_id, variables, account=_account()))
    return "", 204


@route("/external-task/<job_id>/failure", Scope.EXTERNAL_TASK, methods=["POST"])
def failure(job_id: str) -> tuple[str, int]:
    data = body()
    worker_id = _worker(data)
    message = field(data, "errorMessage", str) or "(no error message)"
    details = field(data, "errorDetails", str)
    retries = field(data, "retries", int, minimum=0)
    retry_timeout = field(data, "retryTimeout", int, minimum=0, maximum=MAX_DURATION_MS)
    _on_job(job_id, lambda: engine().fail_job(job_id, worker_id, message, details, retries, retry_timeout,
                                              account=_account()))
    return "", 204


@route("/external-task/<job_id>/bpmnError", Scope.EXTERNAL_TASK, methods=["POST"])
def bpmn_error(job_id: str) -> tuple[str, int]:
    with _result_checked(job_id):
        data = body()
        worker_id = _worker(data)
        code = field(data, "errorCode", str, required=True)
        message = field(data, "errorMessage", str)
        variables = plain_map(data.get("variables"))
    _on_job(job_id, lambda: engine().bpmn_error(job_id, worker_id, code, message, variables, account=_account()))
    return "", 204


@route("/external-task/<job_id>/extendLock", Scope.EXTERNAL_TASK, methods=["POST"])
def extend_lock(job_id: str) -> tuple[str, int]:
    data = body()
    worker_id = _worker(data)
    duration = field(data, "newDuration", int, required=True, minimum=1, maximum=MAX_DURATION_MS)
    _on_job(job_id, lambda: engine().extend_lock(job_id, worker_id, duration, account=_account()))
    return "", 204


@route("/external-task/<job_id>/unlock", Scope.EXTERNAL_TASK, methods=["POST"])
def unlock(job_id: str) -> tuple[str, int]:
    body()  # none expected, but a malformed one is still an error
    _on_job(job_id, lambda: engine().unlock(job_id, account=_account()))
    return "", 204


@route("/external-task/<job_id>/retries", Scope.ADMIN, methods=["PUT"])
def set_retries(job_id: str) -> tuple[str, int]:
    """Above 0 a failed task is fetched again (its incident resolved as retried); 0 parks it with an incident."""
    retries = field(body(), "retries", int, required=True, minimum=0)
    try:
        engine().set_job_retries(job_id, retries, caller().user_id)
    except NotFound:
        raise Missing(f"External task with id {job_id} does not exist") from None
    return "", 204


# -- reading ------------------------------------------------------------------------------------
QUERY = {"externalTaskId", "topicName", "workerId", "locked", "notLocked", "processInstanceId", "businessKey",
         "activityId", "withRetriesLeft", "noRetriesLeft", "firstResult", "maxResults"}


def _query_jobs(args: dict[str, str], default_limit: int = MAX_TASKS) -> list[dict[str, Any]]:
    locked, not_locked = query_bool(args, "locked"), query_bool(args, "notLocked")
    with_retries, no_retries = query_bool(args, "withRetriesLeft"), query_bool(args, "noRetriesLeft")
    if locked and not_locked or with_retries and no_retries:
        return []
    job_id = args.get("externalTaskId")
    worker_id = args.get("workerId")
    return engine().external_jobs(
        job_ids=[job_id] if job_id is not None else None, topic=args.get("topicName"),
        worker_id=worker_id, lock_account=_account() if worker_id is not None else None,  # no one else's holders
        locked=True if locked else (False if not_locked else None),
        case_id=args.get("processInstanceId"), business_key=args.get("businessKey"),
        element_id=args.get("activityId"), with_retries_left=True if with_retries else (False if no_retries else None),
        offset=query_int(args, "firstResult", 0), limit=query_int(args, "maxResults", default_limit, minimum=0))


@route("/external-task", Scope.EXTERNAL_TASK, methods=["GET"])
def list_tasks() -> Response:
    return jsonify([task_json(j) for j in _query_jobs(query_args(QUERY))])


@route("/external-task/count", Scope.EXTERNAL_TASK, methods=["GET"])
def count_tasks() -> Response:
    args = query_args(QUERY - {"firstResult", "maxResults"})
    return jsonify({"count": len(_query_jobs(args, default_limit=2**31 - 1))})


@route("/external-task/<job_id>", Scope.EXTERNAL_TASK, methods=["GET"])
def get_task(job_id: str) -> Response:
    jobs = engine().external_jobs(job_ids=[job_id])
    if not jobs:
        raise Missing(f"External task with id {job_id} does not exist")
    return jsonify(task_json(jobs[0]))

