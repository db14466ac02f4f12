"""The /engine-rest blueprint: authentication on every request, Camunda-shaped errors, body parsing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from casework.errors import CaseworkError
from casework.errors import NotFound as CaseworkNotFound
from engine.errors import Conflict, EngineError, FormError, NotFound, ProcessError, ValidationFailed
from webapp.engine_rest.auth import REALM, Caller, Scope, authenticate, authorize
from webapp.engine_rest.errors import BadUserRequest, InvalidRequest, Missing, RestError

log = logging.getLogger("polku.engine_rest")

PREFIX = "/engine-rest"
bp = Blueprint("engine_rest", __name__, url_prefix=PREFIX)
SCOPES: dict[str, Scope] = {}  # endpoint name -> what the caller's roles must allow
F = TypeVar("F", bound=Callable[..., Any])


def route(rule: str, scope: Scope, methods: list[str]) -> Callable[[F], F]:
    """`bp.route` that also records which permission the endpoint needs (unlisted ones need admin)."""

    def register(view: F) -> F:
        SCOPES[f"{bp.name}.{view.__name__}"] = scope
        return bp.route(rule, methods=methods)(view)  # type: ignore[return-value]

    return register


def engine() -> Any:
    return current_app.config["ENGINE"]


def caller() -> Caller:
    return g.engine_rest_caller


@bp.before_request
def _authenticate() -> None:
    who = authenticate(request, engine())
    authorize(who, SCOPES.get(request.endpoint or "", Scope.ADMIN))
    g.engine_rest_caller = who


# -- request bodies and query strings ---------------------------------------------------------------
def body() -> dict[str, Any]:
    """The JSON object sent; an empty body is an empty object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise InvalidRequest(f"the request body is not valid JSON: {err.msg} at line {err.lineno} "
                             f"column {err.colno}") from None
    if not isinstance(value, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return value


_KINDS: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
                           dict: "an object"}


def field(data: dict[str, Any], name: str, kind: type, required: bool = False, default: Any = None,
          minimum: int | None = None, maximum: int | None = None) -> Any:
    """One body property checked for its JSON type; null counts as absent."""
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


def query_int(args: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"query parameter '{name}' must be an integer, not {value!r}") from None
    if number < minimum:
        raise InvalidRequest(f"query parameter '{name}' must be at least {minimum}")
    return number


# -- errors --------------------------------------------------------------------------------------
def error_response(err: RestError) -> Response:
    response = jsonify(err.body())
    response.status_code = err.status
    if err.status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


@bp.errorhandler(RestError)
def _rest_error(err: RestError) -> Response:
    return error_response(err)


@bp.errorhandler(EngineError)
def _engine_error(err: EngineError) -> Response:
    return error_response(engine_error(err))


def engine_error(err: EngineError) -> RestError:
    """The Camunda status for an engine error the endpoint did not translate itself."""
    if isinstance(err, NotFound):
        return Missing(str(err))
    if isinstance(err, Conflict):
        return BadUserRequest(str(err))
    if isinstance(err, FormError | ValidationFailed):
        return InvalidRequest(str(err))
    if isinstance(err, ProcessError):
        where = f" (element {err.element_id})" if err.element_id else ""
        return RestError(f"{err.message}{where}", 500, "ProcessEngineException")
    return RestError(str(err), 500, "ProcessEngineException")


@bp.errorhandler(CaseworkError)
def _casework_error(err: CaseworkError) -> Response:
    if isinstance(err, CaseworkNotFound):
        return error_response(Missing(str(err)))
    return error_response(BadUserRequest(str(err)))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    return error_response(http_error(err))


def http_error(err: HTTPException) -> RestError:
    kind = "InvalidRequestException" if (err.code or 500) < 500 else "RestException"
    return RestError(f"{err.name}: {err.description}", err.code or 500, kind)


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Response:
    log.exception("engine-rest %s %s failed", request.method, request.path)
    return error_response(RestError(f"{type(err).__name__}: {err}".strip(), 500, type(err).__name__))


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
