"""A letter for printing not delivered within N days is one task for the case manager; delivering it clears it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from casework.case_manager import AssignmentReason, assign
from casework.errors import Refused
from casework.letter import HowDelivered, LetterKind, mark_emailed, write_letter
from casework.letter.undelivered import deliver, open_delivery_tasks, raise_letter_tasks
from engine.db import Database
from engine.models import Case, Task, TaskStatus
from engine.runtime import Engine
from polku.embedded import check_letters
from polku.settings import ROOT, Settings

if TYPE_CHECKING:
    from tests.conftest import TestClock

pytestmark = pytest.mark.usefixtures("staff")
DELIVERY_BPMN = ROOT / "bpmn" / "letter-delivery.bpmn"


@pytest.fixture(autouse=True)
def delivery_deployed(engine: Engine) -> None:
    engine.deploy({"letter-delivery.bpmn": DELIVERY_BPMN.read_bytes()})


def letter(db: Database, clock: TestClock, case_id: str, key: str, manager: str | None = "cecilia") -> int:
    with db.transaction() as s:
        if manager is not None:
            assign(s, case_id, manager, AssignmentReason.INITIAL, clock())
        return write_letter(s, case_id=case_id, kind=LetterKind.CASE_MANAGER_NAMED if manager else
                            LetterKind.GUIDANCE_TO_BASIC_SERVICES, key=key, at=clock(),
                            details={"case_manager": manager} if manager else {"destination": "typ"}).id


def tasks(engine: Engine) -> list[tuple[int, str | None, list[str], str, str]]:
    """(letter id, assignee, candidate groups, case number, letter title) of each open delivery task."""
    with engine.db.read() as s:
        out = []
        for letter_id, task in open_delivery_tasks(s):
            variables = s.get(Case, task.case_id).variables  # type: ignore[union-attr]
            out.append((letter_id, task.assignee, list(task.candidate_groups or []), variables["caseNumber"],
                        variables["letterTitle"]))
        return out


def number(engine: Engine, case_id: str) -> str:
    return str(engine.case(case_id)["businessKey"])


def test_a_letter_late_by_n_days_is_exactly_one_task_for_the_case_manager(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    letter_id = letter(db, clock, case_id, "job:1")
    clock.advance(days=6, hours=23)
    assert raise_letter_tasks(engine, clock()).raised == []  # not late yet
    assert tasks(engine) == []
    clock.advance(hours=1)
    first = raise_letter_tasks(engine, clock())
    assert len(first.raised) == 1 and first.waiting == 1
    [(task_letter, assignee, groups, case_number, title)] = tasks(engine)
    assert (task_letter, assignee, groups, case_number) == (letter_id, "cecilia", [], number(engine, case_id))
    assert title == "Asiakasvastaavasi työkyvyn tuessa"  # the letter's own title, no client data
    for _ in range(3):  # the check runs again and again: no second task
        clock.advance(minutes=15)
        assert raise_letter_tasks(engine, clock()).raised == []
    assert len(tasks(engine)) == 1


def test_delivering_the_letter_withdraws_its_task(db: Database, engine: Engine, clock: TestClock,
                                                  new_case: Callable[..., str]) -> None:
    letter_id = letter(db, clock, new_case(), "job:1")
    clock.advance(days=8)
    raise_letter_tasks(engine, clock())
    assert len(tasks(engine)) == 1
    done = deliver(engine, letter_id, HowDelivered.PRINTED_AND_POSTED, clock(), "cecilia")
    assert done.how is HowDelivered.PRINTED_AND_POSTED
    assert tasks(engine) == []
    with engine.db.read() as s:  # withdrawn, not completed by someone
        [status] = s.scalars(select(Task.status).where(Task.element_id == "deliver_letter"))
        assert status is not TaskStatus.OPEN
    with pytest.raises(Refused, match="already delivered"):
        deliver(engine, letter_id, HowDelivered.HANDED_OVER, clock(), "cecilia")
    clock.advance(days=30)
    assert raise_letter_tasks(engine, clock()).raised == []


def test_a_letter_delivered_another_way_loses_its_task_at_the_next_check(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    letter_id = letter(db, clock, new_case(), "job:1")
    clock.advance(days=8)
    raise_letter_tasks(engine, clock())
    with db.transaction() as s:  # the client gave an email address and the letter was mailed
        mark_emailed(s, letter_id, clock())
    result = raise_letter_tasks(engine, clock())
    assert result.withdrawn == 1 and tasks(engine) == []


def test_an_emailed_letter_never_becomes_a_task(db: Database, engine: Engine, clock: TestClock,
                                                new_case: Callable[..., str]) -> None:
    letter_id = letter(db, clock, new_case(), "job:1")
    with db.transaction() as s:
        mark_emailed(s, letter_id, clock())
    clock.advance(days=30)
    assert raise_letter_tasks(engine, clock()).raised == [] and tasks(engine) == []


def test_without_a_case_manager_the_coordinators_get_it_and_a_task_done_is_not_raised_again(
        db: Database, engine: Engine, clock: TestClock, new_case: Callable[..., str]) -> None:
    letter_id = letter(db, clock, new_case(), "job:1", manager=None)
    clock.advance(days=8)
    raise_letter_tasks(engine, clock())
    [(task_letter, assignee, groups, _, _)] = tasks(engine)
    assert (task_letter, assignee, groups) == (letter_id, None, ["coordinators"])
    with engine.db.read() as s:
        task_id = s.scalar(select(Task.id).where(Task.element_id == "deliver_letter"))
    assert task_id is not None
    engine.claim(task_id, "aino")
    engine.complete_task(task_id, {"letterOutcome": "client_unreachable"}, actor="aino")
    clock.advance(days=30)
    assert raise_letter_tasks(engine, clock()).raised == [] and tasks(engine) == []


def test_how_many_days_is_a_setting(db: Database, engine: Engine, clock: TestClock,
                                    new_case: Callable[..., str]) -> None:
    letter(db, clock, new_case(), "job:1")
    clock.advance(days=4)
    patient = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "k" * 20})
    check_letters(engine, patient)  # the default: 7 days
    assert tasks(engine) == []
    eager = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": "k" * 20,
                               "POLKU_LETTER_DELIVERY_DAYS": "3"})
    check_letters(engine, eager)
    assert len(tasks(engine)) == 1


def test_the_task_follows_a_new_case_manager(db: Database, engine: Engine, clock: TestClock,
                                             new_case: Callable[..., str]) -> None:
    case_id = new_case()
    letter_id = letter(db, clock, case_id, "job:1")
    clock.advance(days=8)
    raise_letter_tasks(engine, clock())
    with db.transaction() as s:
        assign(s, case_id, "bertta", AssignmentReason.WORKLOAD, clock())
    result = raise_letter_tasks(engine, clock())
    assert result.moved == 1 and result.raised == []
    assert [(t[0], t[1]) for t in tasks(engine)] == [(letter_id, "bertta")]
