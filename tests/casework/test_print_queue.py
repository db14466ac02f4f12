"""The print queue: letters for printing not yet delivered, of the cases a person may open, oldest first."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_manager import AssignmentReason, assign
from casework.errors import NotFound
from casework.letter import HowDelivered, LetterKind, mark_delivered, mark_emailed, mark_printed, write_letter
from casework.letter.print_queue import LetterRefused, merge_pdfs, open_letters, print_queue
from casework.staff import Staff, load_staff
from casework.teams import add_member, add_team
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock

pytestmark = pytest.mark.usefixtures("staff")


def staff_of(db: Database, user_id: str) -> Staff:
    with db.read() as s:
        found = load_staff(s, user_id)
    assert found is not None
    return found


def letter(db: Database, clock: TestClock, case_id: str, key: str) -> int:
    with db.transaction() as s:
        return write_letter(s, case_id=case_id, kind=LetterKind.CASE_MANAGER_NAMED, key=key, at=clock(),
                            details={}).id


@pytest.fixture
def letters(db: Database, clock: TestClock, new_case: Callable[..., str]) -> dict[str, int]:
    """Cecilia's case (team 'tiimi', led by Tiina) with three letters, one of them emailed; Aino's case with one."""
    mine, other = new_case(), new_case()
    with db.transaction() as s:
        add_team(s, "tiimi", "Työkykytiimi", clock())
        add_member(s, "tiimi", "cecilia")
        add_member(s, "tiimi", "tiina")
        assign(s, mine, "cecilia", AssignmentReason.INITIAL, clock())
        assign(s, other, "aino", AssignmentReason.INITIAL, clock())
    out = {"first": letter(db, clock, mine, "job:1")}
    clock.advance(days=1)
    out["other"] = letter(db, clock, other, "job:2")
    clock.advance(days=1)
    out["emailed"] = letter(db, clock, mine, "job:3")
    with db.transaction() as s:
        mark_emailed(s, out["emailed"], clock())
    clock.advance(days=1)
    out["last"] = letter(db, clock, mine, "job:4")
    return out


def queue_ids(db: Database, user_id: str) -> list[int]:
    with db.read() as s:
        return [row.letter_id for row in print_queue(s, staff_of(db, user_id))]


def access_rows(db: Database, user_id: str, action: AccessAction) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(AccessLogEntry).where(
            AccessLogEntry.user_id == user_id, AccessLogEntry.action == action)) or 0)


def test_the_queue_lists_undelivered_printed_letters_of_ones_own_cases_oldest_first(
        db: Database, clock: TestClock, letters: dict[str, int]) -> None:
    assert queue_ids(db, "cecilia") == [letters["first"], letters["last"]]  # never the emailed one
    assert queue_ids(db, "tiina") == [letters["first"], letters["last"]]  # the team lead of the case's team
    assert queue_ids(db, "aino") == [letters["other"]]
    assert queue_ids(db, "bertta") == []  # no relationship to either case
    with db.read() as s:
        [first, _] = print_queue(s, staff_of(db, "cecilia"))
    assert first.client_name == "Testi Asiakas 1" and first.kind is LetterKind.CASE_MANAGER_NAMED


def test_printed_letters_stay_until_delivered(db: Database, clock: TestClock, letters: dict[str, int]) -> None:
    with db.transaction() as s:
        mark_printed(s, letters["first"], clock())
    with db.read() as s:
        rows = print_queue(s, staff_of(db, "cecilia"))
    assert [(r.letter_id, r.printed_at) for r in rows] == [(letters["first"], clock()), (letters["last"], None)]
    with db.transaction() as s:
        mark_delivered(s, letters["first"], HowDelivered.PRINTED_AND_POSTED, clock(), "cecilia")
    assert queue_ids(db, "cecilia") == [letters["last"]]


def test_a_batch_opens_all_or_nothing_and_logs_one_row_per_case(db: Database, clock: TestClock,
                                                                 letters: dict[str, int]) -> None:
    cecilia = staff_of(db, "cecilia")
    with db.transaction() as s:
        opened = open_letters(s, cecilia, [letters["last"], letters["first"]], "letters (batch PDF)", clock(),
                              AccessAction.PRINT, with_pdf=True)
        assert [x.id for x in opened.letters] == [letters["last"], letters["first"]]  # in the order chosen
        pdfs = [x.pdf for x in opened.letters]
    assert access_rows(db, "cecilia", AccessAction.PRINT) == 1  # two letters of one case: one row
    merged = PdfReader(io.BytesIO(merge_pdfs(pdfs)))
    assert len(merged.pages) == sum(len(PdfReader(io.BytesIO(p)).pages) for p in pdfs)
    with db.transaction() as s:
        with pytest.raises(LetterRefused) as refused:
            open_letters(s, cecilia, [letters["first"], letters["other"]], "letters (batch PDF)", clock())
    assert refused.value.letter_ids == [letters["other"]]
    assert access_rows(db, "cecilia", AccessAction.DENIED) == 1
    assert access_rows(db, "cecilia", AccessAction.VIEW) == 0  # nothing of the batch was opened
    with db.transaction() as s, pytest.raises(NotFound):
        open_letters(s, cecilia, [999_999], "letters (batch PDF)", clock())
