"""When, how and by whom a letter reached the client: the evaluation counts delivered letters, not written ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from casework.case_manager import AssignmentReason, assign, current_case_manager
from casework.errors import Refused
from casework.letter import (
    HowDelivered,
    LetterKind,
    letters_to_deliver,
    mark_delivered,
    mark_emailed,
    write_letter,
)
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock

pytestmark = pytest.mark.usefixtures("staff")


def named_letter(db: Database, clock: TestClock, case_id: str, key: str = "job:1") -> int:
    with db.transaction() as s:
        assign(s, case_id, "aino", AssignmentReason.INITIAL, clock())
        return write_letter(s, case_id=case_id, kind=LetterKind.CASE_MANAGER_NAMED, key=key, at=clock(),
                            details={"case_manager": "aino"}).id


def test_a_printed_letter_is_delivered_when_staff_record_posting_it(db: Database, clock: TestClock,
                                                                   new_case: Callable[..., str]) -> None:
    case_id = new_case()
    letter_id = named_letter(db, clock, case_id)
    with db.transaction() as s:
        assert [letter.id for letter in letters_to_deliver(s)] == [letter_id]
        assert current_case_manager(s, case_id).client_informed_at is None  # type: ignore[union-attr]
    clock.advance(days=1)
    with db.transaction() as s:
        letter = mark_delivered(s, letter_id, HowDelivered.PRINTED_AND_POSTED, clock(), by="tiina")
        assert (letter.delivered_how, letter.delivered_at, letter.delivered_by) == (
            HowDelivered.PRINTED_AND_POSTED, clock(), "tiina")
        assert letter.printed_at == clock()
    with db.transaction() as s:
        assert letters_to_deliver(s) == []
        # the letter names the current case manager: the client now knows who it is
        assert current_case_manager(s, case_id).client_informed_at == clock()  # type: ignore[union-attr]


def test_a_letter_is_delivered_once_and_only_after_it_was_written(db: Database, clock: TestClock,
                                                                 new_case: Callable[..., str]) -> None:
    letter_id = named_letter(db, clock, new_case())
    with pytest.raises(Refused, match="before it was written"), db.transaction() as s:
        mark_delivered(s, letter_id, HowDelivered.HANDED_OVER, clock() - timedelta(days=1), by="aino")
    with pytest.raises(Refused, match="who delivered"), db.transaction() as s:
        mark_delivered(s, letter_id, HowDelivered.HANDED_OVER, clock(), by="  ")
    with db.transaction() as s:
        mark_delivered(s, letter_id, HowDelivered.HANDED_OVER, clock(), by="aino")
    with pytest.raises(Refused, match=r"already delivered \(handed_over, by aino\)"), db.transaction() as s:
        mark_delivered(s, letter_id, HowDelivered.PRINTED_AND_POSTED, clock(), by="tiina")
    with db.transaction() as s:
        letter = mark_emailed(s, letter_id, clock() + timedelta(hours=1))  # a later email does not rewrite it
        assert (letter.delivered_how, letter.delivered_by, letter.printed_at) == (HowDelivered.HANDED_OVER, "aino",
                                                                                  None)


def test_a_mailed_letter_is_delivered_by_polku(db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    letter_id = named_letter(db, clock, new_case())
    with db.transaction() as s:
        letter = mark_emailed(s, letter_id, clock())
        assert (letter.delivered_how, letter.delivered_at, letter.delivered_by) == (HowDelivered.MAILED, clock(),
                                                                                    "polku")
        assert letters_to_deliver(s) == []
