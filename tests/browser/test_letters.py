"""The letters print queue as a case manager uses it: the letter is listed, chosen and marked posted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from casework.case_manager import Assignment
from casework.client_case import CaseStatus, ClientCase
from casework.letter import LetterKind, write_letter
from engine.db import Database
from tests.browser.support import Visit, check_accessibility, sign_in

pytestmark = pytest.mark.browser

CASE_MANAGER = "sosiaalityo.pekka"


def letter_to_print(visit: Visit) -> int:
    """A letter for printing in one of the case manager's open cases.

    Every demo client has an email address, so the process mails every demo letter; a client without one is
    what the print queue is for, and this letter stands in for theirs (written as the letter worker writes it).
    """
    db = Database(f"sqlite:///{visit.server.log.parent / 'polku.db'}")
    try:
        with db.transaction() as s:
            case_id = s.scalar(select(Assignment.case_id).join(ClientCase, ClientCase.case_id == Assignment.case_id)
                               .where(Assignment.user_id == CASE_MANAGER, Assignment.to_at.is_(None),
                                      ClientCase.status == CaseStatus.OPEN).limit(1))
            assert case_id is not None, f"the demo gives {CASE_MANAGER} no open case"
            return write_letter(s, case_id=case_id, kind=LetterKind.CASE_MANAGER_NAMED,
                                key=f"browser:{uuid.uuid4()}", at=datetime.now(UTC), details={}).id
    finally:
        db.dispose()


def test_a_case_manager_marks_a_letter_posted(visit: Visit) -> None:
    letter_id = letter_to_print(visit)
    page = sign_in(visit, CASE_MANAGER)
    page.locator("nav.polku-nav a[href='/letters']").click()
    row = page.locator(f"#letter-row-{letter_id}")
    expect(row).to_be_visible()
    check_accessibility(page, "letters-queue")

    with page.expect_popup() as opened:  # "open as one PDF" opens the batch beside the queue
        page.locator(f"#letter-{letter_id}").check()
        page.locator("#letters-pdf").click()
    popup = opened.value
    popup.close()

    page.locator(f"#letter-{letter_id}").check()
    page.locator("#letters-posted").click()
    expect(page.locator("main [role=status]").first).to_be_visible()
    expect(page.locator(f"#letter-row-{letter_id}")).to_have_count(0)
    check_accessibility(page, "letters-after-posting")
