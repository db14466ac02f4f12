"""Case notes (casework.case_notes): what a note must be, who sees it (the case team all of them, a partner
only those shared with the network and its own)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from casework.case_notes import MAX_NOTE, InvalidNote, Visibility, add_note, note_count, notes_of
from casework.network import PartnerKind, add_partner
from casework.staff import Staff, load_staff
from casework.users import Role, add_user
from engine.db import Database
from tests.conftest import TestClock


def staff_of(db: Database, user: str) -> Staff:
    with db.read() as s:
        found = load_staff(s, user)
    assert found is not None
    return found


@pytest.mark.parametrize(("text", "visibility", "problem"), [
    ("", "case_team", "empty"), ("   \n ", "network", "empty"), ("x" * (MAX_NOTE + 1), "case_team", "too_long"),
    ("Hyvä", "everyone", "visibility"), ("Hyvä", "", "visibility")])
def test_a_note_must_have_text_within_the_limit_and_a_known_visibility(
        db: Database, clock: TestClock, staff: None, new_case: Callable[..., str], text: str, visibility: str,
        problem: str) -> None:
    case = new_case()
    with pytest.raises(InvalidNote) as raised, db.transaction() as s:
        add_note(s, case, staff_of(db, "aino"), text, visibility, clock())
    assert raised.value.problem == problem
    with db.read() as s:
        assert note_count(s, case) == 0


def test_the_case_team_sees_every_note_a_partner_the_shared_ones_and_its_own(
        db: Database, clock: TestClock, staff: None, new_case: Callable[..., str]) -> None:
    case = new_case()
    with db.transaction() as s:
        health = add_partner(s, "Terveysasema", PartnerKind.HEALTH_CARE).id
        other = add_partner(s, "Työpaja ry", PartnerKind.NGO).id
        add_user(s, "hilkka", "Hilkka Hoitaja", [Role.PARTNER], clock()).partner_id = health
    with db.transaction() as s:
        add_note(s, case, staff_of(db, "aino"), "Vain tiimille", Visibility.CASE_TEAM, clock())
        clock.advance(minutes=1)
        add_note(s, case, staff_of(db, "aino"), " Myös verkostolle ", "network", clock())
        clock.advance(minutes=1)
        own = add_note(s, case, staff_of(db, "hilkka"), "Aika varattu", "case_team", clock(), referral_id="r-1")
        assert (own.partner_id, own.author_name) == (health, "Hilkka Hoitaja")
    with db.read() as s:
        assert [n.text for n in notes_of(s, case)] == ["Vain tiimille", "Myös verkostolle", "Aika varattu"]
        assert [n.text for n in notes_of(s, case, for_partner=health)] == ["Myös verkostolle", "Aika varattu"]
        assert [n.text for n in notes_of(s, case, for_partner=other)] == ["Myös verkostolle"]
