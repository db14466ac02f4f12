"""A letter for printing that has not reached the client within N days is a task for the case's case manager.

The pilots' clients did not know who their case manager was; a letter in the print queue tells them nothing.
A periodic check (`raise_letter_tasks`, run by the scheduler beside the staffing alarms: polku/embedded.py,
POLKU_LETTER_DELIVERY_DAYS) starts one bpmn/letter-delivery.bpmn case per late letter (business key
`LETTER-<letter id>`), whose task goes to the case's current case manager (the coordinators while it has
none), and follows the case to a new case manager. Marking the letter delivered (`deliver`, or any other way: the
check notices) withdraws the task. A task the case manager completes ("this letter is not to be delivered", with
the reason) is not raised again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.case_manager import case_manager_now, current_case_manager
from casework.letter.records import Delivery, HowDelivered, Letter, mark_delivered
from casework.users import StaffUser
from engine.errors import EngineError
from engine.models import Case, Definition, Task, TaskStatus
from engine.models import CaseStatus as EngineCaseStatus

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.letters")

PROCESS = "letter_delivery"  # bpmn/letter-delivery.bpmn
UNDELIVERED_MESSAGE = "letterUndelivered"  # starts it
DELIVERED_MESSAGE = "letterDelivered"  # withdraws its task
TASK = "deliver_letter"
DELIVER_WITHIN = timedelta(days=7)  # the default of POLKU_LETTER_DELIVERY_DAYS
NO_CASE_MANAGER_GROUP = "coordinators"  # who gets the task while the case has no (active) case manager


def business_key(letter_id: int) -> str:
    return f"LETTER-{letter_id}"


def letter_of(key: str | None) -> int | None:
    """The letter id in a delivery case's business key, or None."""
    if key is None or not key.startswith("LETTER-"):
        return None
    rest = key.removeprefix("LETTER-")
    return int(rest) if rest.isdigit() else None


def late_letters(session: Session, now: datetime, within: timedelta = DELIVER_WITHIN) -> list[Letter]:
    """Letters for printing written more than `within` ago that nobody has recorded as delivered, oldest first."""
    return list(session.scalars(select(Letter).where(Letter.delivery == Delivery.PRINT,
                                                     Letter.delivered_at.is_(None),
                                                     Letter.created_at <= now - within)
                                .order_by(Letter.created_at, Letter.id)))


def _delivery_cases(session: Session, keys: list[str] | None = None, active_only: bool = False
                    ) -> list[tuple[str, str | None, EngineCaseStatus]]:
    """(case id, business key, status) of letter delivery cases, oldest first."""
    query = (select(Case.id, Case.business_key, Case.status).join(Definition, Definition.id == Case.definition_id)
             .where(Definition.key == PROCESS).order_by(Case.created_at, Case.id))
    if keys is not None:
        if not keys:
            return []
        query = query.where(Case.business_key.in_(keys))
    if active_only:
        query = query.where(Case.status == EngineCaseStatus.ACTIVE)
    return [(case_id, key, status) for case_id, key, status in session.execute(query).all()]


@dataclass(frozen=True)
class LetterCheck:
    raised: list[str]  # delivery case ids started in this run
    withdrawn: int  # tasks withdrawn because their letter was delivered
    waiting: int  # late letters that have an open task now
    moved: int = 0  # open tasks handed to the case's new case manager


def raise_letter_tasks(engine: Engine, now: datetime, within: timedelta = DELIVER_WITHIN) -> LetterCheck:
    """Give every late letter one task for its case manager; withdraw the tasks of letters since delivered.

    Safe in several schedulers at once: a letter that got two cases in a race keeps the older one.
    """
    with engine.db.read() as session:
        late = late_letters(session, now, within)
        cases = _delivery_cases(session, [business_key(letter.id) for letter in late])
        active = _delivery_cases(session, active_only=True)
        late_ids = {letter.id for letter in late}
        open_ids = {letter_of(key) for _, key, _ in active}
        still_open = set(session.scalars(select(Letter.id).where(Letter.id.in_([i for i in open_ids if i]),
                                                                 Letter.delivered_at.is_(None))))
    withdrawn = 0
    for case_id, key, _ in active:
        letter_id = letter_of(key)
        if letter_id is not None and letter_id not in still_open and _withdraw(engine, case_id):
            withdrawn += 1
    moved = _follow_case_managers(engine)
    had_case = {letter_of(key) for _, key, _ in cases}
    raised: list[str] = []
    for letter in late:
        if letter.id in had_case:
            continue  # one task per letter: open now, withdrawn, or completed by its case manager
        started = _start(engine, letter.id)
        if started is not None:
            raised.append(started)
    waiting = len({letter_of(key) for _, key, _ in active} & late_ids) + len(raised)
    return LetterCheck(raised, withdrawn, waiting, moved)


def _follow_case_managers(engine: Engine) -> int:
    """An open task held by a former case manager of the case moves to the current one (who now answers for
    the client); a task someone else holds (a team lead assigned it) stays where it is."""
    with engine.db.read() as session:
        moves: list[tuple[str, str]] = []
        for _, task in open_delivery_tasks(session):
            case = session.get(Case, task.case_id)
            concerned = (case.variables or {}).get("concernedCaseId") if case is not None else None
            if task.assignee is None or not isinstance(concerned, str):
                continue
            now_with = case_manager_now(session, concerned, task.assignee)
            if now_with != task.assignee:
                moves.append((task.id, now_with))
    moved = 0
    for task_id, user in moves:
        try:
            engine.set_assignee(task_id, user, actor="polku", reason="the case manager changed")
            moved += 1
        except EngineError as err:
            log.info("letter delivery task %s stays with its holder: %s", task_id, err)
    return moved


def _recipient(session: Session, case_id: str) -> tuple[str | None, str]:
    """(assignee, candidate groups): the current case manager while active, else the coordinators."""
    current = current_case_manager(session, case_id)
    if current is not None:
        user = session.get(StaffUser, current.user_id)
        if user is not None and user.active:
            return user.id, ""
    return None, NO_CASE_MANAGER_GROUP


def _start(engine: Engine, letter_id: int) -> str | None:
    """Start the letter's delivery case (its task) unless another scheduler did; its id, or None."""
    key = business_key(letter_id)
    with engine.db.read() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.delivered_at is not None:
            return None
        case = session.get(Case, letter.case_id)
        number = (case.business_key if case is not None else None) or letter.case_id
        assignee, groups = _recipient(session, letter.case_id)
        variables = {"letterId": letter.id, "caseNumber": number, "concernedCaseId": letter.case_id,
                     "letterKind": letter.kind.value, "letterTitle": letter.title,
                     "letterWritten": letter.created_at.date().isoformat(), "letterAction": "print_and_deliver",
                     "caseManager": assignee, "letterGroups": groups}
    try:
        [started] = engine.correlate(UNDELIVERED_MESSAGE, business_key=key, variables=variables)
    except EngineError as err:
        # e.g. bpmn/letter-delivery.bpmn is not deployed: tried again at the next check
        log.warning("letter %s of case %s: no delivery task could be started: %s", letter_id, number, err)
        return None
    with engine.db.read() as session:
        twins = _delivery_cases(session, [key])
    keep = twins[0][0] if twins else started
    for case_id, _, status in twins[1:]:
        if status == EngineCaseStatus.ACTIVE:
            try:  # a race between two schedulers: the older case stays
                engine.cancel(case_id, actor="polku")
            except EngineError as err:
                log.info("duplicate letter delivery case %s was not cancelled: %s", case_id, err)
    return started if started == keep else None


def _withdraw(engine: Engine, case_id: str) -> bool:
    """The letter was delivered: its open task goes (the case ends at 'task withdrawn')."""
    if not engine.message_waiters(DELIVERED_MESSAGE, case_id=case_id):
        return False
    try:
        engine.correlate(DELIVERED_MESSAGE, case_id=case_id)
    except EngineError as err:
        log.info("letter delivery case %s was not withdrawn: %s", case_id, err)
        return False
    return True


def withdraw_task(engine: Engine, letter_id: int) -> bool:
    """Withdraw the letter's open delivery task, if it has one (after the letter was delivered)."""
    done = False
    for case_id in engine.message_waiters(DELIVERED_MESSAGE, business_key=business_key(letter_id)):
        done = _withdraw(engine, case_id) or done
    return done


@dataclass(frozen=True)
class Delivered:
    letter_id: int
    case_id: str
    how: HowDelivered
    at: datetime
    by: str


def deliver(engine: Engine, letter_id: int, how: HowDelivered, at: datetime, by: str) -> Delivered:
    """Record that staff delivered the letter (casework.letter.mark_delivered: Refused when it already was),
    then withdraw its delivery task, if one was raised."""
    with engine.db.transaction() as session:
        letter = mark_delivered(session, letter_id, how, at, by)
        result = Delivered(letter.id, letter.case_id, how, at, by)
    withdraw_task(engine, letter_id)
    return result


def open_delivery_tasks(session: Session) -> list[tuple[int, Task]]:
    """(letter id, task) of every open letter delivery task, oldest first."""
    rows = session.execute(select(Case.business_key, Task).join(Case, Case.id == Task.case_id)
                           .where(Task.element_id == TASK, Task.status == TaskStatus.OPEN)
                           .order_by(Task.created_at, Task.id)).all()
    return [(letter_id, task) for key, task in rows if (letter_id := letter_of(key)) is not None]
