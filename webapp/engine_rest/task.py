"""Camunda 7's task API (`/engine-rest/task`), so a tasklist written for Camunda 7 works against Polku.

People (coordinators, case managers, team leads) get exactly what the inbox gives them: the list is
`casework.task_list` restricted by `casework.task_access`, and claim, assign and complete ask the same
rules as the pages. A machine account (integration, or an admin without a staff role) may read every
task, as before, but not act on one: claiming and completing are a person's acts.

Errors keep Camunda's shape {"type", "message"}: a form that fails validation is a 400 naming each
field (also as "errors": {field: message}); a task someone else has claimed or completed is a 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from casework.staff import Staff, load_staff
from casework.task_access import TaskPeople, may_assign, may_claim, may_see, may_unclaim, may_work
from casework.task_list import Page, Sort, Tab, TaskFilter, count, listing
from casework.teams import team_members
from casework.users import Role
from engine.errors import Conflict, FormError, NotFound
from engine.forms import Form, defaults
from engine.models import Case, CaseStatus, Definition, Task, TaskStatus
from webapp.engine_rest.auth import Scope
from webapp.engine_rest.blueprint import (
    USER_ID_LENGTH,
    body,
    caller,
    engine,
    field,
    log_variables_shown,
    query_args,
    query_bool,
    query_int,
    route,
    unsupported,
)
from webapp.engine_rest.errors import Forbidden, InvalidRequest, Missing, RestError
from webapp.engine_rest.variables import format_date, parse_date, plain_map, typed, typed_map

STAFF_ROLES = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD)
MAX_RESULTS = 1000
FILTERS = {"assignee", "candidateUser", "candidateGroup", "processInstanceBusinessKey", "processInstanceId",
           "dueBefore", "followUpBefore", "taskDefinitionKey", "unassigned", "includeAssignedTasks"}
SORTS = {"dueDate": Sort.DUE, "followUpDate": Sort.FOLLOW_UP, "created": Sort.CREATED, "name": Sort.NAME,
         "nameCaseInsensitive": Sort.NAME, "priority": Sort.PRIORITY, "assignee": Sort.ASSIGNEE,
         "taskDefinitionKey": Sort.STEP, "processInstanceBusinessKey": Sort.BUSINESS_KEY}
FORM_TYPES = {"string": "String", "long": "Long", "boolean": "Boolean", "date": "Date", "enum": "String"}


class TaskConflict(RestError):
    """Someone else got there first (claimed, completed): 409 in Camunda's error shape."""

    status = 409
    type = "TaskAlreadyClaimedException"


# -- who is asking -------------------------------------------------------------------------------
def staff_caller() -> Staff | None:
    """The caller as the pages see them (roles, teams, groups), or None for a machine account."""
    who = caller()
    if not who.roles.intersection(STAFF_ROLES):
        return None
    with engine().db.read() as session:
        return load_staff(session, who.user_id)


def person() -> Staff:
    staff = staff_caller()
    if staff is None:
        who = caller()
        raise Forbidden(f"user '{who.user_id}' is a machine account: claiming, assigning and completing tasks "
                        "need a staff account (coordinator, case manager or team lead)",
                        extra={"userId": who.user_id, "missingAuthorizations": []})
    return staff


def forbidden(staff: Staff, what: str, task_id: str) -> Forbidden:
    return Forbidden(f"user '{staff.id}' may not {what} task {task_id}",
                     extra={"userId": staff.id, "missingAuthorizations": []})


# -- reading -------------------------------------------------------------------------------------
def _task_row(task_id: str) -> tuple[Task, Case, Definition]:
    with engine().db.read() as session:
        row = session.execute(select(Task, Case, Definition).join(Case, Case.id == Task.case_id)
                              .join(Definition, Definition.id == Case.definition_id)
                              .where(Task.id == task_id)).one_or_none()
    if row is None:
        raise Missing(f"No matching task with id {task_id}")
    return row[0], row[1], row[2]


def _open_task(task_id: str) -> tuple[Task, Case, Definition]:
    task, case, definition = _task_row(task_id)
    if task.status != TaskStatus.OPEN:
        by = f" by {task.completed_by}" if task.completed_by else ""
        raise TaskConflict(f"Task {task_id} was already {task.status.value}{by}", type_="ProcessEngineException")
    return task, case, definition


def _visible(task_id: str, staff: Staff | None) -> tuple[Task, Case, Definition]:
    task, case, definition = _task_row(task_id)
    if staff is not None:
        with engine().db.read() as session:
            if not may_see(session, staff, TaskPeople.of(task)):
                raise forbidden(staff, "see", task_id)
    return task, case, definition


def task_json(task: Task, case: Case, definition: Definition) -> dict[str, Any]:
    return {
        "id": task.id, "name": task.name, "assignee": task.assignee, "owner": None,
        "created": format_date(task.created_at), "lastUpdated": format_date(task.claimed_at or task.created_at),
        "due": format_date(task.due), "followUp": format_date(task.follow_up), "delegationState": None,
        "description": None, "executionId": task.id, "parentTaskId": None, "priority": task.priority,
        "processDefinitionId": f"{definition.key}:{definition.version}:{definition.id}",
        "processInstanceId": task.case_id, "caseExecutionId": None, "caseDefinitionId": None,
        "caseInstanceId": None, "taskDefinitionKey": task.element_id, "suspended": case.status == CaseStatus.SUSPENDED,
        "formKey": task.form_key, "camundaFormRef": _form_ref(task), "tenantId": None,
    }


def _form_ref(task: Task) -> dict[str, Any] | None:
    ref = (task.form or {}).get("form_ref")
    return {"key": ref, "binding": "latest", "version": None} if ref else None


def _rows(ids: Iterable[str]) -> list[dict[str, Any]]:
    """The Camunda JSON of these tasks, in the order given (one query for the page)."""
    wanted = list(ids)
    if not wanted:
        return []
    with engine().db.read() as session:
        found = {t.id: task_json(t, c, d) for t, c, d in session.execute(
            select(Task, Case, Definition).join(Case, Case.id == Task.case_id)
            .join(Definition, Definition.id == Case.definition_id).where(Task.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def _query(args: dict[str, str], staff: Staff) -> tuple[Tab, TaskFilter] | None:
    """Camunda's query parameters as the inbox's tab and filter; None when nothing can match."""
    business_key = args.get("processInstanceBusinessKey")
    case_id = args.get("processInstanceId")
    if case_id:
        try:
            key = engine().case(case_id)["businessKey"]
        except NotFound:
            key = None
        if key is None or (business_key is not None and business_key != key):
            return None  # no such case (or not with that key): an empty list, as Camunda answers
        business_key = key
    include_assigned = query_bool(args, "includeAssignedTasks") is True
    candidate_user, tab = args.get("candidateUser"), Tab.ALL
    if candidate_user == staff.id:  # "offered to me": my candidate-user tasks and my groups', as Camunda resolves
        candidate_user, tab = None, (Tab.ALL if include_assigned else Tab.GROUPS)
    candidate = args.get("candidateUser") or args.get("candidateGroup")
    return tab, TaskFilter(
        task_definition_key=args.get("taskDefinitionKey"),
        due_before=parse_date(args["dueBefore"], "dueBefore") if "dueBefore" in args else None,
        follow_up_before=parse_date(args["followUpBefore"], "followUpBefore") if "followUpBefore" in args else None,
        business_key=business_key, assignee=args.get("assignee"), candidate_user=candidate_user,
        candidate_group=args.get("candidateGroup"),
        unassigned=query_bool(args, "unassigned") is True or (bool(candidate) and not include_assigned))


def _page(args: dict[str, str]) -> Page:
    sort_by, order = args.get("sortBy"), args.get("sortOrder")
    if (sort_by is None) != (order is None):
        raise InvalidRequest("Only a single sorting parameter specified. sortBy and sortOrder required")
    if order is not None and order not in ("asc", "desc"):
        raise InvalidRequest(f"Cannot set query parameter 'sortOrder' to value '{order}': use asc or desc")
    if sort_by is not None and sort_by not in SORTS:
        raise InvalidRequest(f"Cannot set query parameter 'sortBy' to value '{sort_by}' "
                             f"(supported: {', '.join(sorted(SORTS))})")
    return Page(sort=SORTS[sort_by] if sort_by else Sort.CREATED, descending=order == "desc",
                offset=query_int(args, "firstResult", 0), limit=query_int(args, "maxResults", MAX_RESULTS, 0))


def _staff_list(args: dict[str, str], staff: Staff, counting: bool) -> tuple[list[str], int]:
    query = _query(args, staff)
    if query is None:
        return [], 0
    tab, filt = query
    runtime = engine()
    with runtime.db.read() as session:
        if counting:
            return [], count(session, staff, tab, runtime.clock(), filt)
        page = _page(args)
        if page.limit == 0:
            return [], 0
        result = listing(session, staff, tab, runtime.clock(), filt, page)
    return [row.id for row in result.rows], result.total


def _machine_list(args: dict[str, str]) -> list[dict[str, Any]]:
    """Every open task for a machine account, filtered like the staff list (sorted and paged by the caller)."""
    page = _page(args)
    runtime = engine()
    due_before = parse_date(args["dueBefore"], "dueBefore") if "dueBefore" in args else None
    follow_before = parse_date(args["followUpBefore"], "followUpBefore") if "followUpBefore" in args else None
    case_ids = {args["processInstanceId"]} if args.get("processInstanceId") else None
    out = []
    with runtime.db.read() as session:
        query = (select(Task, Case, Definition).join(Case, Case.id == Task.case_id)
                 .join(Definition, Definition.id == Case.definition_id).where(Task.status == TaskStatus.OPEN))
        if case_ids is not None:
            query = query.where(Task.case_id.in_(case_ids))
        if args.get("processInstanceBusinessKey") is not None:
            query = query.where(Case.business_key == args["processInstanceBusinessKey"])
        for name, column in (("taskDefinitionKey", Task.element_id), ("assignee", Task.assignee)):
            if args.get(name) is not None:
                query = query.where(column == args[name])
        for task, case, definition in session.execute(query):
            if due_before is not None and (task.due is None or _aware(task.due) >= due_before):
                continue
            if follow_before is not None and (task.follow_up is None or _aware(task.follow_up) >= follow_before):
                continue
            if args.get("candidateGroup") and args["candidateGroup"] not in (task.candidate_groups or ()):
                continue
            if args.get("candidateUser") and args["candidateUser"] not in (task.candidate_users or ()):
                continue
            if (args.get("candidateGroup") or args.get("candidateUser")) and task.assignee is not None and \
                    query_bool(args, "includeAssignedTasks") is not True:
                continue
            if query_bool(args, "unassigned") is True and task.assignee is not None:
                continue
            out.append((task, task_json(task, case, definition)))
    key = {Sort.DUE: lambda t: t.due, Sort.FOLLOW_UP: lambda t: t.follow_up, Sort.CREATED: lambda t: t.created_at,
           Sort.NAME: lambda t: t.name, Sort.PRIORITY: lambda t: t.priority, Sort.ASSIGNEE: lambda t: t.assignee,
           Sort.STEP: lambda t: t.element_id, Sort.BUSINESS_KEY: lambda t: t.case_id}[page.sort]
    present = sorted((p for p in out if key(p[0]) is not None), key=lambda p: (key(p[0]), p[0].id),
                     reverse=page.descending)
    ordered = present + [p for p in out if key(p[0]) is None]
    return [j for _t, j in ordered[page.offset:page.offset + page.limit]]


def _aware(value: datetime) -> datetime:
    from engine.clock import aware

    result = aware(value)
    assert result is not None
    return result


@route("/task", Scope.TASK, methods=["GET"])
def task_list() -> Response:
    """Camunda's task query; a person sees what their inbox's "all" tab holds."""
    args = query_args(FILTERS | {"sortBy", "sortOrder", "firstResult", "maxResults"})
    staff = staff_caller()
    if staff is None:
        return jsonify(_machine_list(args))
    ids, _total = _staff_list(args, staff, counting=False)
    return jsonify(_rows(ids))


@route("/task/count", Scope.TASK, methods=["GET"])
def task_count() -> Response:
    args = query_args(FILTERS)
    staff = staff_caller()
    if staff is None:
        return jsonify({"count": len(_machine_list({**args, "maxResults": str(2**31 - 1)}))})
    _ids, total = _staff_list(args, staff, counting=True)
    return jsonify({"count": total})


@route("/task/<task_id>", Scope.TASK, methods=["GET"])
def task_get(task_id: str) -> Response:
    return jsonify(task_json(*_visible(task_id, staff_caller())))


@route("/task/<task_id>/form-variables", Scope.TASK, methods=["GET"])
def task_form_variables(task_id: str) -> Response:
    """The form's fields with their current values (typed as the form declares); other forms: the case's variables."""
    args = query_args({"variableNames", "deserializeValues"})
    task_row, case, _definition = _visible(task_id, staff_caller())
    names = [n.strip() for n in args.get("variableNames", "").split(",") if n.strip()] or None
    variables = engine().case(task_row.case_id)["variables"]
    form = Form.from_json(task_row.form) if task_row.form else None
    if form is not None and form.fields:
        initial = {**defaults(form), **{f.id: variables[f.id] for f in form.fields if f.id in variables}}
        out = {}
        for form_field in form.fields:
            if names is not None and form_field.id not in names:
                continue
            value = initial.get(form_field.id)
            entry = typed(value)
            entry["type"] = FORM_TYPES.get(form_field.base_type, "String")
            if entry["type"] == "Date" and isinstance(value, str):
                entry["value"] = _camunda_date(value)
            out[form_field.id] = entry
    else:
        out = typed_map(variables, names)
    log_variables_shown([task_row.case_id], "task form variables")
    return jsonify(out)


def _camunda_date(text: str) -> str:
    """A form's date (stored as YYYY-MM-DD) in Camunda's date format; text that is no date stays as it is."""
    try:
        return format_date(datetime.fromisoformat(text)) or text
    except ValueError:
        return text


# -- acting ---------------------------------------------------------------------------------------
def _user_id(data: dict[str, Any], required: bool) -> str | None:
    value: str | None = field(data, "userId", str, required=required, max_length=USER_ID_LENGTH)
    return value


def _engine_call(task_id: str, action: Any) -> None:
    """Run an engine action; its Conflict is a 409, NotFound a 404."""
    try:
        action()
    except NotFound:
        raise Missing(f"No matching task with id {task_id}") from None
    except Conflict as err:
        raise TaskConflict(f"Task {task_id}: {err}") from None


@route("/task/<task_id>/claim", Scope.TASK, methods=["POST"])
def task_claim(task_id: str) -> tuple[str, int]:
    """Take an unassigned task offered to me (`userId` must be the caller: a team lead assigns instead)."""
    staff = person()
    user_id = _user_id(body(), required=True)
    task_row, _case, _definition = _open_task(task_id)
    people = TaskPeople.of(task_row)
    if user_id != staff.id:
        raise forbidden(staff, f"claim for user '{user_id}' (use /task/{{id}}/assignee)", task_id)
    if task_row.assignee is not None and task_row.assignee != staff.id:
        raise TaskConflict(f"Task '{task_id}' is already claimed by someone else.")
    if task_row.assignee is None and not may_claim(staff, people):
        raise forbidden(staff, "claim", task_id)
    _engine_call(task_id, lambda: engine().claim(task_id, staff.id, actor=staff.id))
    return "", 204


@route("/task/<task_id>/unclaim", Scope.TASK, methods=["POST"])
def task_unclaim(task_id: str) -> tuple[str, int]:
    staff = person()
    task_row, _case, _definition = _open_task(task_id)
    if task_row.assignee is None:
        return "", 204
    with engine().db.read() as session:
        allowed = may_unclaim(session, staff, TaskPeople.of(task_row))
    if not allowed:
        raise forbidden(staff, "unclaim", task_id)
    _engine_call(task_id, lambda: engine().unclaim(task_id, actor=staff.id))
    return "", 204


@route("/task/<task_id>/assignee", Scope.TASK, methods=["POST"])
def task_assignee(task_id: str) -> tuple[str, int]:
    """Set the assignee: a team lead to a person of the team; anyone to themself when they may claim."""
    staff = person()
    data = body()
    user_id = _user_id(data, required=False)
    reason = field(data, "reason", str, max_length=1000)  # Polku's addition: why a lead moved the task
    task_row, _case, _definition = _open_task(task_id)
    people = TaskPeople.of(task_row)
    with engine().db.read() as session:
        leads = may_assign(session, staff, people)
        team = {u.id for u in team_members(session, staff.leads)} if leads else set()
        may_drop = may_unclaim(session, staff, people)
    if leads:
        if user_id is not None and user_id not in team:
            raise InvalidRequest(f"userId: '{user_id}' is not a member of a team you lead")
    elif user_id == staff.id and (may_claim(staff, people) or task_row.assignee == staff.id):
        pass
    elif user_id is None and may_drop:
        pass
    else:
        raise forbidden(staff, "assign", task_id)
    _engine_call(task_id, lambda: engine().set_assignee(task_id, user_id, staff.id, reason))
    return "", 204


def _complete(task_id: str, variables_field: str) -> Response | tuple[str, int]:
    staff = person()
    data = body()
    unsupported(data, "businessKey")
    variables = plain_map(data.get(variables_field), variables_field)
    with_variables = field(data, "withVariablesInReturn", bool, default=False)
    task_row, _case, _definition = _open_task(task_id)
    if not may_work(staff, TaskPeople.of(task_row)):
        if task_row.assignee is None:
            raise forbidden(staff, "complete (claim it first)", task_id)
        raise forbidden(staff, "complete", task_id)
    try:
        engine().complete_task(task_id, variables, actor=staff.id)
    except FormError as err:
        raise InvalidRequest(f"Cannot submit task form {task_id}: form validation failed: {err}",
                             extra={"errors": dict(err.errors)}) from None
    except NotFound:
        raise Missing(f"No matching task with id {task_id}") from None
    except Conflict as err:
        raise TaskConflict(f"Task {task_id}: {err}", type_="ProcessEngineException") from None
    if not with_variables:
        return "", 204
    values = engine().case(task_row.case_id)["variables"]
    log_variables_shown([task_row.case_id], "process variables after completing a task")
    return jsonify(typed_map(values))


@route("/task/<task_id>/complete", Scope.TASK, methods=["POST"])
def task_complete(task_id: str) -> Response | tuple[str, int]:
    return _complete(task_id, "variables")


@route("/task/<task_id>/submit-form", Scope.TASK, methods=["POST"])
def task_submit_form(task_id: str) -> Response | tuple[str, int]:
    return _complete(task_id, "variables")
