"""The /engine-rest blueprint: authentication on every request, Camunda-shaped errors, body parsing."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from casework.errors import CaseworkError
from casework.errors import NotFound as CaseworkNotFound
from engine.errors import (
    Conflict,
    EngineError,
    ExpressionError,
    FormError,
    NotFound,
    ProcessError,
    ValidationFailed,
)
from engine.models import Case, Job
from engine.redaction import describe
from webapp.engine_rest.auth import REALM, Caller, Scope, authenticate, authorize
from webapp.engine_rest.errors import BadUserRequest, InvalidRequest, Missing, RestError, TooManyAttempts
from webapp.engine_rest.json_input import check_text, loads, shown

log = logging.getLogger("polku.engine_rest")

PREFIX = "/engine-rest"
bp = Blueprint("engine_rest", __name__, url_prefix=PREFIX)
SCOPES: dict[str, Scope] = {}  # endpoint name -> what the caller's roles must allow
F = TypeVar("F", bound=Callable[..., Any])
INT_MAX = 2**31 - 1  # the database's INTEGER: counts, offsets, retries, definition ids


def _width(column: Any) -> int:
    """A String column's width: a longer value is refused here with a message, not by the database."""
    return int(column.type.length)


BUSINESS_KEY_LENGTH = _width(Case.__table__.c.business_key)
USER_ID_LENGTH = _width(Job.__table__.c.lock_owner)  # workerId is stored as the lock's owner
MAX_DURATION_MS = 100 * 365 * 86_400_000  # lock and retry durations: ~100 years is far past any real need


def route(rule: str, scope: Scope, methods: list[str]) -> Callable[[F], F]:
    """`bp.route` that also records which permission the endpoint needs (unlisted ones need admin)."""

    def register(view: F) -> F:
        SCOPES[f"{bp.name}.{view.__name__}"] = scope
        return bp.route(rule, methods=methods)(view)

    return register


def engine() -> Any:
    return current_app.config["ENGINE"]


def caller() -> Caller:
    return g.engine_rest_caller


def public_url(path: str) -> str:
    """An app path as a link for clients: from the configured BASE_URL, never from the request's Host header.

    Without a configured base (tests, an app built bare) the link stays relative to the server.
    """
    base = current_app.config.get("BASE_URL")
    if not base:
        return path
    return str(base).rstrip("/") + path[len(request.script_root):]


@bp.before_request
def _authenticate() -> None:
    who = authenticate(request, engine())
    authorize(who, SCOPES.get(request.endpoint or "", Scope.ADMIN))
    g.engine_rest_caller = who
    _check_path_and_query()


def _check_path_and_query() -> None:
    """Path segments and query values the database could not store or compare (NUL, lone surrogates)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(value, f"the path segment {name}")
    for name, value in request.args.items(multi=True):
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter '{shown(name, 40)[1:-1]}'")


# -- request bodies and query strings ---------------------------------------------------------------
def body() -> dict[str, Any]:
    """The JSON object sent; an empty body is an empty object."""
    raw = request.get_data(cache=True)  # a Content-Length over MAX_CONTENT_LENGTH: 413 before anything is read
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        raise RequestEntityTooLarge()  # chunked: Werkzeug stops reading at the limit, and the rest is unread
    if not raw.strip():
        return {}
    value = loads(raw)
    if not isinstance(value, dict):
        raise InvalidRequest("the request body must be a JSON object")
    g.engine_rest_body = value
    return value


_KINDS: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
                           dict: "an object"}


def field(data: dict[str, Any], name: str, kind: type, required: bool = False, default: Any = None,
          minimum: int | None = None, maximum: int | None = INT_MAX, max_length: int | None = None) -> Any:
    """One body property checked for its JSON type and range; null counts as absent.

    Integers are bounded by the database's INTEGER unless the endpoint says otherwise; strings that
    land in a column of fixed width (user ids, business keys) pass `max_length`.
    """
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required")
        return default
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise InvalidRequest(f"'{name}' must be {_KINDS[kind]}, not {json.dumps(value)[:60]}")
    if kind is str and required and not value.strip():
        raise InvalidRequest(f"'{name}' must not be empty")
    if kind is str and max_length is not None and len(value) > max_length:
        raise InvalidRequest(f"'{name}' is {len(value)} characters long; at most {max_length} are allowed")
    if kind is int and minimum is not None and value < minimum:
        raise InvalidRequest(f"'{name}' must be at least {minimum}")
    if kind is int and maximum is not None and value > maximum:
        raise InvalidRequest(f"'{name}' must be at most {maximum}")
    return value


def unsupported(data: dict[str, Any], *names: str) -> None:
    """Refuse filters this engine does not implement rather than silently ignore them."""
    for name in names:
        if data.get(name) not in (None, [], {}, ""):
            raise InvalidRequest(f"'{name}' is not supported by this engine")


def query_args(allowed: set[str]) -> dict[str, str]:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise InvalidRequest(f"unsupported query parameter(s): {', '.join(unknown)} "
                             f"(supported: {', '.join(sorted(allowed))})")
    return {k: v for k, v in request.args.items()}


def query_bool(args: dict[str, str], name: str) -> bool | None:
    value = args.get(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise InvalidRequest(f"query parameter '{name}' must be true or false, not {value!r}")
    return value.lower() == "true"


def query_int(args: dict[str, str], name: str, default: int, minimum: int = 0, maximum: int = INT_MAX) -> int:
    value = args.get(name)
    if value is None:
        return default
    text = value.strip()
    if not re.fullmatch("[-+]?[0-9]+", text):
        raise InvalidRequest(f"query parameter '{name}' must be an integer, not {shown(value)}")
    if len(text) > len(str(maximum)) + 1 or not minimum <= int(text) <= maximum:
        raise InvalidRequest(f"query parameter '{name}' must be between {minimum} and {maximum}")
    return int(text)


# -- errors --------------------------------------------------------------------------------------
def error_response(err: RestError) -> Response:
    response = jsonify(err.body())
    response.status_code = err.status
    if err.status == 401:
        response.headers["WWW-Authenticate"] = REALM
    if isinstance(err, TooManyAttempts):
        response.headers["Retry-After"] = str(err.retry_after_s)
    return response


@bp.errorhandler(RestError)
def _rest_error(err: RestError) -> Response:
    return error_response(err)


@bp.errorhandler(EngineError)
def _engine_error(err: EngineError) -> Response:
    return error_response(engine_error(err))


def engine_error(err: EngineError, prefix: str = "") -> RestError:
    """The Camunda status for an engine error the endpoint did not translate itself.

    A case that cannot run on is Camunda's 500 ProcessEngineException, except when an expression or
    timer failed on variables this request brought (a duration of `garbage`): that is bad input, a 400,
    and the transaction rolled back, so nothing was changed.
    """
    if isinstance(err, NotFound):
        return Missing(f"{prefix}{err}")
    if isinstance(err, Conflict):
        return BadUserRequest(f"{prefix}{err}")
    if isinstance(err, FormError | ValidationFailed):
        return InvalidRequest(f"{prefix}{err}")
    message = f"{prefix}{err.message if isinstance(err, ProcessError) else err}"
    element = getattr(err, "element_id", None)
    message += f" (element {element})" if element else ""
    if variables_sent() and caused_by(err, ExpressionError):
        return InvalidRequest(f"{message}; the variables sent cannot be used, nothing was changed")
    return RestError(message, 500, "ProcessEngineException")


VARIABLE_FIELDS = ("variables", "localVariables", "processVariables", "processVariablesLocal")


def variables_sent() -> bool:
    """Whether this request's body brought any variables."""
    data = g.get("engine_rest_body") or {}
    return any(data.get(name) for name in VARIABLE_FIELDS)


def caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in the exception's chain (SpiffWorkflow wraps what our expressions raise)."""
    current: BaseException | None = err
    for _ in range(20):
        if current is None:
            return False
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
    return False


@bp.errorhandler(CaseworkError)
def _casework_error(err: CaseworkError) -> Response:
    if isinstance(err, CaseworkNotFound):
        return error_response(Missing(str(err)))
    return error_response(BadUserRequest(str(err)))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    return error_response(http_error(err))


def http_error(err: HTTPException) -> RestError:
    if err.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return RestError(f"the request body is larger than the limit of {limit} bytes", 413,
                         "InvalidRequestException")
    kind = "InvalidRequestException" if (err.code or 500) < 500 else "RestException"
    return RestError(f"{err.name}: {err.description}", err.code or 500, kind)


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Response:
    """Any other failure: a 500 that says nothing about the server; the log has the traceback, not the data."""
    reference = uuid.uuid4().hex[:12]
    log.error("engine-rest %s %s failed (reference %s)\n%s", request.method, request.path, reference, describe(err))
    return error_response(RestError(f"internal error (reference {reference}): the request could not be "
                                    "completed and the server log has the details", 500, "RestException"))


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(rest: str) -> Response:
    """Anything else under /engine-rest: a JSON 404 (this engine implements a subset of Camunda's API)."""
    raise RestError(f"no endpoint {request.method} {PREFIX}/{rest} in this engine", 404, "InvalidRequestException")


SCOPES[f"{bp.name}.unknown"] = Scope.EXTERNAL_TASK  # every API role may learn that a path does not exist


def log_variables_shown(case_ids: Iterable[str], what: str) -> None:
    """The response carries case variables (client data): one access log row per client case shown."""
    from casework.access_log import log_case_access

    who = caller()
    runtime = engine()
    with runtime.db.transaction() as session:
        log_case_access(session, user_id=who.user_id, role=",".join(sorted(r.value for r in who.roles)),
                        case_ids=case_ids, what=what, why=f"/engine-rest {request.method} {request.path}",
                        at=runtime.clock())
