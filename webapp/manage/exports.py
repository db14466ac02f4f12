"""The event log for process mining (`/manage/export`): XES (IEEE 1849-2016) and CSV downloads.

casework.event_log builds both from the engine's history with pseudonymised case ids and no personal data;
this module only picks the filters (the managers' filters of webapp.manage.views, plus which process), checks
who asks (managers and team leads: anyone else gets 403), writes the access log and streams the answer.

The access log: a pseudonymised event log is still personal data (GDPR recital 26: whoever holds the key can
re-identify it), and every client whose case is in it may ask who processed their data. So each exported case
gets one access row (action `export`), written before the first byte goes out, by one INSERT ... SELECT per
10,000 cases (casework.access_log.log_case_access; the bind parameter limits of SQLite and PostgreSQL set the
chunk): at county scale two statements and 20,000 rows, in milliseconds, and the rows say only "event log
export", never anything of the case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from casework.access_log import AccessAction, log_case_access
from casework.event_log import (
    CSV_COLUMNS,
    EventLogFilter,
    ProcessChoice,
    csv_stream,
    exported_cases,
    pseudonym_key,
    xes_stream,
)
from casework.finnish_time import HELSINKI
from casework.staff import Staff
from webapp.auth.session import roles_required
from webapp.manage import bp
from webapp.manage.views import DELIMITER, ROLES, Filters, _manager_staff, engine, filters

WHY = "management: process mining of the case history (pseudonymised event log, no personal data)"
LOG_CHUNK = 10_000  # cases per access-log INSERT (SQLite allows 32,766 bind parameters, PostgreSQL 65,535)
PROCESS_LABELS: dict[ProcessChoice, Any] = {
    ProcessChoice.BOTH: _l("Both: the case and its service coordination"),
    ProcessChoice.MAIN: _l("The case manager model only"),
    ProcessChoice.CALLED: _l("Service coordination only"),
}


def event_log_key() -> bytes:
    """The pseudonyms' key: EVENT_LOG_KEY if configured, else derived from the app's SECRET_KEY (itself derived
    from POLKU_SECRET_KEY), so the same case keeps its pseudonym across exports and restarts."""
    configured = current_app.config.get("EVENT_LOG_KEY")
    if configured:
        return configured if isinstance(configured, bytes) else pseudonym_key(str(configured))
    return pseudonym_key(str(current_app.config["SECRET_KEY"]))


def _process() -> ProcessChoice:
    try:
        return ProcessChoice(request.args.get("process") or ProcessChoice.BOTH.value)
    except ValueError:
        return ProcessChoice.BOTH


def _log_filter(chosen: Filters, process: ProcessChoice) -> EventLogFilter:
    """The period's days in Helsinki as instants: from the first day's midnight to the midnight after the last."""
    start = end = None
    if chosen.first_day is not None:
        start = datetime.combine(chosen.first_day, time(), HELSINKI)
    if chosen.last_day is not None:
        end = datetime.combine(chosen.last_day + timedelta(days=1), time(), HELSINKI)
    return EventLogFilter(chosen.scope, start, end, process)


def _args(chosen: Filters, process: ProcessChoice) -> dict[str, str]:
    out = chosen.args()
    out.pop("version", None)  # the log holds every version's history
    if process is not ProcessChoice.BOTH:
        out["process"] = process.value
    return out


def _page(chosen: Filters, process: ProcessChoice, status: int = 200) -> Any:
    return render_template("manage/exports.html", title=_("Event log export"), f=chosen, process=process,
                           process_labels=PROCESS_LABELS, args=_args(chosen, process), columns=CSV_COLUMNS), status


@bp.route("/export", endpoint="exports")
@roles_required(*ROLES)
def exports_page() -> Any:
    """What the two formats hold, the filters, and the two download links."""
    staff = _manager_staff()
    with engine().db.read() as session:
        chosen = filters(session, staff)
    return _page(chosen, _process(), 400 if chosen.errors else 200)


def _filename(chosen: Filters, process: ProcessChoice, extension: str) -> str:
    """Dates and the process only: nothing of a person, a team or a case."""
    days = f"{chosen.first_day.isoformat()}--{chosen.last_day.isoformat()}" if chosen.first_day and chosen.last_day \
        else "all"
    return f"polku-event-log-{process.value}-{days}.{extension}"


@dataclass(frozen=True)
class _Export:
    chosen: Filters
    process: ProcessChoice
    wanted: EventLogFilter
    case_ids: list[str]
    at: datetime


def _prepare(staff: Staff, what: str) -> tuple[_Export | None, Any]:
    """The filters, the cases and the access log of one export; or the page with its errors (400)."""
    now = engine().clock()
    process = _process()
    with engine().db.transaction() as session:
        chosen = filters(session, staff)
        if chosen.errors:  # never a download of other dates than asked: the page says what is wrong
            return None, _page(chosen, process, 400)
        wanted = _log_filter(chosen, process)
        case_ids = exported_cases(session, wanted)
        for first in range(0, len(case_ids), LOG_CHUNK):
            log_case_access(session, user_id=staff.id, role=staff.logged_role(),
                            case_ids=case_ids[first:first + LOG_CHUNK], what=what, why=WHY, at=now,
                            action=AccessAction.EXPORT)
    return _Export(chosen, process, wanted, case_ids, now), None


def _export(extension: str, mimetype: str, stream: Callable[[_Export], Iterator[bytes]]) -> Any:
    """One download of the event log (the filters' errors: the page instead), streamed one case at a time."""
    found, page = _prepare(_manager_staff(), f"event log export ({extension.upper()}, pseudonymised)")
    if found is None:
        return page
    response = Response(stream(found), mimetype=mimetype)
    filename = _filename(found.chosen, found.process, extension)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/export/events.xes", endpoint="events_xes")
@roles_required(*ROLES)
def events_xes() -> Any:
    """The event log as XES, streamed one case at a time."""
    return _export("xes", "application/xml", lambda found: xes_stream(
        engine().db.read, event_log_key(), found.case_ids, found.wanted, found.at, HELSINKI))


@bp.route("/export/events.csv", endpoint="events_csv")
@roles_required(*ROLES)
def events_csv() -> Any:
    """The event log as CSV (one row per step of a case), streamed one case at a time."""
    return _export("csv", "text/csv", lambda found: csv_stream(
        engine().db.read, event_log_key(), found.case_ids, found.wanted, HELSINKI, DELIMITER))
