"""The print queue of letters to clients without email, one letter's PDF, and marking letters printed and delivered.

Views stay thin: `casework.letter.print_queue` lists and opens (access rule and access log, one row per case),
`casework.letter.undelivered.deliver` records a delivery and withdraws the case manager's reminder task. No
client name goes into a URL or a file name: letters are addressed by their number, batches by the day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework.access_log import AccessAction
from casework.errors import CaseworkError, NotFound, Refused
from casework.letter import HowDelivered, Letter, LetterKind, letter_filename, mark_printed
from casework.letter.print_queue import (
    MAX_BATCH,
    LetterRefused,
    OpenedLetters,
    QueueRow,
    batch_filename,
    log_queue_view,
    merge_pdfs,
    open_letters,
    print_queue,
)
from casework.letter.undelivered import deliver
from casework.staff import Staff
from casework.users import Role
from engine.models import Case
from webapp.api.openapi import describe, json_body
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import login_required, require_staff
from webapp.auth.views import safe_next
from webapp.cases.access import open_case
from webapp.home import add_navigation
from webapp.letters import api, bp

QUEUE_ROLES = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD)
KIND_LABELS = {
    LetterKind.GUIDANCE_TO_BASIC_SERVICES: lazy_gettext("Guidance to services"),
    LetterKind.CASE_MANAGER_NAMED: lazy_gettext("Case manager named"),
    LetterKind.CASE_MANAGER_CHANGED: lazy_gettext("Case manager changed"),
    LetterKind.CLOSURE_SUMMARY: lazy_gettext("Closure summary"),
}
STAFF_DELIVERY = {HowDelivered.PRINTED_AND_POSTED.value: HowDelivered.PRINTED_AND_POSTED,
                  HowDelivered.HANDED_OVER.value: HowDelivered.HANDED_OVER}

add_navigation("letters.queue", lazy_gettext("Letters"), *QUEUE_ROLES)


def _engine() -> Any:
    return current_app.config["ENGINE"]


def _now() -> datetime:
    now: datetime = _engine().clock()
    return now


def _queue_staff() -> Staff:
    staff = require_staff()
    if not staff.has(*QUEUE_ROLES):
        abort(403)
    return staff


def _queue_rows(staff: Staff) -> list[QueueRow]:
    """The queue as `staff` may see it, with the access log written in the same transaction (once per request)."""
    with _engine().db.transaction() as session:
        rows = print_queue(session, staff)
        log_queue_view(session, staff, rows, _now())
    return rows


def _letter_ids(values: list[str]) -> list[int] | None:
    """Letter numbers from a form or query; None when any is not a number."""
    ids: list[int] = []
    for value in values:
        if not value.strip().isdigit() or len(value.strip()) > 12:
            return None
        ids.append(int(value.strip()))
    return list(dict.fromkeys(ids))


def _case_number(letter_id: int) -> tuple[str, Letter] | None:
    """The case number of the letter's case and the letter (PDF not loaded), or None."""
    with _engine().db.read() as session:
        row = session.execute(select(Letter, Case.business_key).join(Case, Case.id == Letter.case_id)
                              .where(Letter.id == letter_id)).first()
        if row is None:
            return None
        letter, key = row
        session.expunge(letter)
        return key or letter.case_id, letter


def _open_one(staff: Staff, letter_id: int, what: str) -> tuple[str, Letter] | int:
    """The letter if `staff` may open its case (access logged by open_case), else 404 / 403."""
    found = _case_number(letter_id)
    if found is None:
        return 404
    opened = open_case(staff, found[0], what)
    if isinstance(opened, int):
        return opened
    return found


def _pdf_response(pdf: bytes, filename: str, download: bool) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # a client's letter must not stay in a shared cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- pages ---------------------------------------------------------------------------------------------------

@bp.route("", methods=["GET"])
@login_required
def queue() -> Any:
    """The print queue: letters to clients without email not yet delivered, oldest first."""
    staff = _queue_staff()
    return _render_queue(staff, _queue_rows(staff))


def _render_queue(staff: Staff, rows: list[QueueRow], error: str | None = None, chosen: set[int] | None = None,
                  status: int = 200) -> Any:
    return render_template("letters/queue.html", title=_("Letters"), rows=rows, kinds=KIND_LABELS, error=error,
                           chosen=chosen or set(), max_batch=MAX_BATCH), status


@bp.route("/batch", methods=["POST"])
@login_required
def batch() -> Any:
    """Open the chosen letters as one PDF, or mark them printed, posted or handed over."""
    staff = _queue_staff()
    action = request.form.get("action", "")
    ids = _letter_ids(request.form.getlist("letter"))
    if action not in ("pdf", "printed", "posted", "handed_over"):
        action = ""
    if not ids or not action:
        rows = _queue_rows(staff)
        message = _("Choose at least one letter.") if not ids else _("Choose what to do with the letters.")
        return _render_queue(staff, rows, message, set(ids or []), 400)
    if len(ids) > MAX_BATCH:
        rows = _queue_rows(staff)
        return _render_queue(staff, rows, _("Choose at most %(num)d letters at a time.", num=MAX_BATCH), set(ids), 400)
    if action == "pdf":
        return _batch_pdf(staff, ids, download=False)
    return _batch_mark(staff, ids, action)


@bp.route("/batch.pdf", methods=["GET"])
@login_required
def batch_pdf() -> Any:
    """The chosen letters (`letter` repeated: their numbers) as one PDF."""
    staff = _queue_staff()
    ids = _letter_ids(request.args.getlist("letter"))
    if not ids or len(ids) > MAX_BATCH:
        abort(400)
    return _batch_pdf(staff, ids, download=request.args.get("download") == "1")


def _open_batch(staff: Staff, ids: list[int], what: str, action: AccessAction, with_pdf: bool = False,
                then: Callable[[Session, OpenedLetters], Any] | None = None) -> tuple[OpenedLetters, Any] | int:
    """Open the letters (all or nothing) and run `then` in the same transaction; else 404 or 403.

    A refused batch still commits: the refused attempt stays in the access log.
    """
    with _engine().db.transaction() as session:
        try:
            opened = open_letters(session, staff, ids, what, _now(), action, with_pdf=with_pdf)
        except NotFound:
            return 404
        except LetterRefused:
            return 403
        return opened, then(session, opened) if then is not None else None


def _batch_pdf(staff: Staff, ids: list[int], download: bool) -> Any:
    result = _open_batch(staff, ids, "letters (batch PDF)", AccessAction.PRINT, with_pdf=True,
                         then=lambda _s, opened: [letter.pdf for letter in opened.letters])
    if isinstance(result, int):
        abort(result)
    documents = result[1]
    return _pdf_response(merge_pdfs(documents), batch_filename(_now(), len(documents)), download)


def _batch_mark(staff: Staff, ids: list[int], action: str) -> Any:
    engine = _engine()
    now = _now()

    def work(session: Session, opened: OpenedLetters) -> list[int]:
        if action == "printed":
            for letter in opened.letters:
                mark_printed(session, letter.id, now)
        return [letter.id for letter in opened.letters if letter.delivered_at is not None]

    result = _open_batch(staff, ids, "letters (mark delivered)", AccessAction.UPDATE, then=work)
    if isinstance(result, int):
        abort(result)
    already: list[int] = result[1]
    if action == "printed":
        flash(ngettext("%(num)d letter marked printed. Mark it posted once it is in the post.",
                       "%(num)d letters marked printed. Mark them posted once they are in the post.", len(ids)),
              "success")
        return redirect(url_for("letters.queue"))
    how = HowDelivered.PRINTED_AND_POSTED if action == "posted" else HowDelivered.HANDED_OVER
    done = 0
    for letter_id in ids:
        if letter_id in already:
            continue
        try:
            deliver(engine, letter_id, how, now, staff.id)
            done += 1
        except Refused:
            already.append(letter_id)  # delivered meanwhile by someone else: their record stands
    if done:
        flash(ngettext("%(num)d letter marked posted.", "%(num)d letters marked posted.", done)
              if how is HowDelivered.PRINTED_AND_POSTED
              else ngettext("%(num)d letter marked handed over.", "%(num)d letters marked handed over.", done),
              "success")
    if already:
        flash(ngettext("%(num)d letter had already been marked delivered; nothing was changed for it.",
                       "%(num)d letters had already been marked delivered; nothing was changed for them.",
                       len(already)), "info")
    return redirect(url_for("letters.queue"))


@bp.route("/<int:letter_id>/pdf", methods=["GET"])
@login_required
def letter_pdf(letter_id: int) -> Any:
    """One letter's PDF as it was stored (the record of what the client was told)."""
    staff = require_staff()
    opened = _open_one(staff, letter_id, "letter PDF")
    if isinstance(opened, int):
        abort(opened)
    letter = opened[1]
    with _engine().db.read() as session:
        pdf = session.scalar(select(Letter.pdf).where(Letter.id == letter_id))
    if pdf is None:
        abort(404)
    return _pdf_response(pdf, letter_filename(letter), download=request.args.get("download") == "1")


def _back() -> Response:
    target = request.form.get("next")
    return redirect(safe_next(target) if target else url_for("letters.queue"))


@bp.route("/<int:letter_id>/delivered", methods=["POST"])
@login_required
def mark_delivered(letter_id: int) -> Any:
    """Record that the letter reached the client: `how` = printed_and_posted or handed_over."""
    staff = require_staff()
    how = STAFF_DELIVERY.get(request.form.get("how", ""))
    opened = _open_one(staff, letter_id, "letter delivery")
    if isinstance(opened, int):
        abort(opened)
    letter = opened[1]
    if how is None:
        flash(_("Choose how the letter reached the client: posted or handed over."), "error")
        return _back()
    if letter.delivered_at is not None:
        flash(_("This letter was already marked delivered; nothing was changed."), "info")
        return _back()
    try:
        deliver(_engine(), letter_id, how, _now(), staff.id)
    except Refused:
        flash(_("This letter was already marked delivered; nothing was changed."), "info")
        return _back()
    flash(_("The letter was marked posted.") if how is HowDelivered.PRINTED_AND_POSTED
          else _("The letter was marked handed over."), "success")
    return _back()


@bp.route("/<int:letter_id>/printed", methods=["POST"], endpoint="mark_printed")
@login_required
def mark_printed_view(letter_id: int) -> Any:
    """Record that the letter was printed (the first print counts)."""
    staff = require_staff()
    opened = _open_one(staff, letter_id, "letter printed")
    if isinstance(opened, int):
        abort(opened)
    try:
        with _engine().db.transaction() as session:
            mark_printed(session, letter_id, _now())
    except CaseworkError:
        abort(404)
    flash(_("The letter was marked printed. Mark it posted once it is in the post."), "success")
    return _back()


# -- JSON ----------------------------------------------------------------------------------------------------

def _row_json(row: QueueRow) -> dict[str, Any]:
    return {"id": row.letter_id, "caseNumber": row.business_key, "clientName": row.client_name,
            "kind": row.kind.value, "title": row.title, "language": row.language,
            "created": row.created_at.isoformat(), "printed": row.printed_at.isoformat() if row.printed_at else None,
            "pdf": url_for("letters.letter_pdf", letter_id=row.letter_id)}


@api.route("", methods=["GET"])
@api_route
def api_queue() -> Any:
    """The print queue: letters to clients without email not yet delivered, oldest first.

    Only letters of cases the caller may open (a partner, or anyone without a relationship, gets an empty list).
    """
    staff = api_staff()
    return jsonify({"letters": [_row_json(row) for row in _queue_rows(staff)]})


@api.route("/<int:letter_id>/delivered", methods=["POST"])
@api_route
def api_delivered(letter_id: int) -> Any:
    """Record that the letter reached the client; 409 when it was already recorded."""
    staff = api_staff()
    body = request.get_json(silent=True)
    how = STAFF_DELIVERY.get(body.get("how", "")) if isinstance(body, dict) and isinstance(body.get("how"), str) \
        else None
    opened = _open_one(staff, letter_id, "letter delivery")
    if opened == 404:
        return json_error(404, "NotFound", f"no letter {letter_id}")
    if isinstance(opened, int):
        return json_error(403, "AuthorizationException", "no relationship to the letter's case")
    if how is None:
        return json_error(400, "InvalidRequestException", "how must be printed_and_posted or handed_over")
    try:
        done = deliver(_engine(), letter_id, how, _now(), staff.id)
    except Refused:
        return json_error(409, "Conflict", "the letter was already marked delivered")
    return jsonify({"id": done.letter_id, "delivered": done.at.isoformat(), "how": done.how.value, "by": done.by})


LETTER = {"type": "object", "properties": {
    "id": {"type": "integer"}, "caseNumber": {"type": "string"}, "clientName": {"type": "string"},
    "kind": {"type": "string", "enum": [kind.value for kind in LetterKind]}, "title": {"type": "string"},
    "language": {"type": "string"}, "created": {"type": "string", "format": "date-time"},
    "printed": {"type": "string", "format": "date-time", "nullable": True},
    "pdf": {"type": "string", "description": "the letter's PDF (page URL, same access rules)"}}}
describe("letters_api.api_queue", response={"type": "object", "properties": {
    "letters": {"type": "array", "items": LETTER}}})
describe("letters_api.api_delivered",
         body=json_body({"how": {"type": "string", "enum": list(STAFF_DELIVERY)}}, required=["how"]),
         response={"type": "object", "properties": {
             "id": {"type": "integer"}, "delivered": {"type": "string", "format": "date-time"},
             "how": {"type": "string"}, "by": {"type": "string"}}})
