"""A partner answers a referral in steps; casework checks each answer against the referral's status.

What a partner and a case manager notice: which answers are taken and which are refused (with a message that
says what may come next), the status the plan's service shows, the mail the case manager gets (no client data),
and what the partner's list of referrals shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from casework.case_manager import AssignmentReason, assign
from casework.client_case import get_case
from casework.consent import ConsentMethod, record_consent
from casework.errors import CaseworkError, NotFound
from casework.network import PartnerKind, add_partner
from casework.notification import OutboxMessage
from casework.plan import Goal, ItemKind, PlanDraft, PlanItem, PlannedService, ServiceType, save_plan
from casework.service_referral import (
    IllegalAnswer,
    PartnerReferral,
    ReferralAnswer,
    ServiceStatus,
    open_referrals_for_partner,
    record_answer,
    record_referral,
    referral_by_id,
    service_statuses,
)
from engine.db import Database
from tests.conftest import TestClock

TODAY = date(2026, 1, 5)


@pytest.fixture
def referred(db: Database, clock: TestClock, staff: None, new_case: Callable[..., str]) -> Callable[..., str]:
    """A case with a plan of one service at a partner, referred under the client's consent; returns its referral id."""

    def make(partner: str = "Kuvitteellinen työpaja ry", case_manager: str | None = "aino") -> str:
        case_id = new_case()
        with db.transaction() as s:
            partner_id = add_partner(s, partner, PartnerKind.NGO, email="paja@example.invalid").id
            if case_manager is not None:
                assign(s, case_id, case_manager, AssignmentReason.INITIAL, clock())
            plan = save_plan(s, case_id, PlanDraft(
                goals=[Goal("Työkokeilu", TODAY + timedelta(days=90), "aino", main=True)],
                services=[PlannedService(ServiceType.REHABILITATIVE_WORK_ACTIVITY, partner, "Kuvitteellinen Ohjaaja",
                                         TODAY + timedelta(days=30), partner_id=partner_id)]), by="aino", at=clock())
            item = next(i for i in plan.items if i.kind is ItemKind.SERVICE)
            consent = record_consent(s, get_case(s, case_id).client_id, partner_id, "ohjaus ja palaute", clock(),
                                     recorded_by="aino", method=ConsentMethod.WRITTEN)
            row = record_referral(s, item, case_id, by="aino", consent_id=consent.id, at=clock())
            assert row.referral_id is not None
            return row.referral_id

    return make


def answer(db: Database, clock: TestClock, referral_id: str, word: str, outcome: str | None = None,
           catching_up: bool = False) -> ServiceStatus:
    with db.transaction() as s:
        return record_answer(s, referral_id, word, outcome, "paja.ohjaaja", clock(), catching_up=catching_up).status


# (answers given before, the next answer, None if taken or the refusal's words)
STEPS = [
    ([], "accepted", None),
    ([], "refused", None),
    ([], "not_available", None),
    ([], "started", "the next answer can be accepted or refused or not_available"),
    ([], "done", "the next answer can be accepted or refused or not_available"),
    (["accepted"], "started", None),
    (["accepted"], "done", "the next answer can be started"),
    (["accepted"], "accepted", "the next answer can be started"),
    (["accepted"], "refused", "the next answer can be started"),
    (["accepted", "started"], "done", None),
    (["accepted", "started"], "accepted", "the next answer can be done"),
    (["accepted", "started", "done"], "started", "already done"),
    (["accepted", "started", "done"], "done", "already done"),
    (["refused"], "accepted", "already refused"),
    (["not_available"], "started", "already not_available"),
]


@pytest.mark.parametrize(("before", "word", "refusal"), STEPS,
                         ids=[f"{'-'.join(b) or 'sent'}+{w}" for b, w, _ in STEPS])
def test_each_answer_is_taken_only_in_its_turn(db: Database, clock: TestClock, referred: Callable[..., str],
                                               before: list[str], word: str, refusal: str | None) -> None:
    rid = referred()
    for earlier in before:
        answer(db, clock, rid, earlier, "Jakso päättyi" if earlier == "done" else None)
    if refusal is None:
        assert answer(db, clock, rid, word, "Jakso päättyi") is ServiceStatus(word)
    else:
        with pytest.raises(IllegalAnswer, match=refusal):
            answer(db, clock, rid, word, "Jakso päättyi")
        with db.transaction() as s:  # nothing of the refused answer was kept
            assert [a.answer.value for a in s.scalars(select(ReferralAnswer).order_by(ReferralAnswer.id))] == before


def test_done_needs_its_outcome_and_an_unknown_word_is_no_answer(db: Database, clock: TestClock,
                                                                  referred: Callable[..., str]) -> None:
    rid = referred()
    with pytest.raises(IllegalAnswer, match="unknown answer 'maybe'"):
        answer(db, clock, rid, "maybe")
    with pytest.raises(IllegalAnswer, match="unknown answer 'requested'"):
        answer(db, clock, rid, "requested")
    answer(db, clock, rid, "accepted")
    answer(db, clock, rid, "started")
    with pytest.raises(IllegalAnswer, match="needs its outcome"):
        answer(db, clock, rid, "done", "   ")


def test_the_process_catching_up_with_an_answer_already_recorded_changes_nothing(
        db: Database, clock: TestClock, referred: Callable[..., str]) -> None:
    rid = referred()
    answer(db, clock, rid, "accepted")
    answer(db, clock, rid, "started")
    assert answer(db, clock, rid, "accepted", catching_up=True) is ServiceStatus.STARTED
    assert answer(db, clock, rid, "started", catching_up=True) is ServiceStatus.STARTED
    with db.transaction() as s:
        assert len(s.scalars(select(ReferralAnswer)).all()) == 2
        assert len(s.scalars(select(OutboxMessage)).all()) == 2  # one mail per answer, not per delivery


def test_every_answer_mails_the_case_manager_and_no_client_data(db: Database, clock: TestClock,
                                                                 referred: Callable[..., str]) -> None:
    rid = referred()
    answer(db, clock, rid, "accepted")
    clock.advance(days=3)
    answer(db, clock, rid, "started")
    with db.transaction() as s:
        mail = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.recipient, m.to_address) for m in mail] == [("staff:aino", "aino@example.invalid")] * 2
        assert "palvelupyyntö on hyväksytty" in mail[0].body and "palvelu on alkanut" in mail[1].body
        assert all("Testi Asiakas" not in m.body + m.subject and "työpaja" not in m.body for m in mail)


def test_without_a_case_manager_the_team_leads_hear_of_the_answer(db: Database, clock: TestClock,
                                                                 referred: Callable[..., str]) -> None:
    rid = referred(case_manager=None)
    answer(db, clock, rid, "refused")
    with db.transaction() as s:
        mail = s.scalars(select(OutboxMessage)).all()
        assert [m.recipient for m in mail] == ["staff:tiina"]
        assert "esihenkilönä" in mail[0].body and "toinen palveluntuottaja" in mail[0].body


def test_a_partner_s_list_shows_its_open_referrals_with_the_service_status_and_dates_only(
        db: Database, clock: TestClock, referred: Callable[..., str]) -> None:
    first = referred("Kuvitteellinen työpaja ry")
    second = referred("Toinen kuvitteellinen paja")
    with db.transaction() as s:
        (listed,) = open_referrals_for_partner(s, 1)
        assert listed == PartnerReferral(first, "rehabilitative_work_activity", ServiceStatus.REQUESTED, clock(),
                                         TODAY + timedelta(days=30), clock())
        assert {f.name for f in dataclasses.fields(PartnerReferral)} == {
            "referral_id", "service_type", "status", "referred_at", "start_due", "status_at"}
    answer(db, clock, first, "accepted")
    answer(db, clock, second, "not_available")
    with db.transaction() as s:
        assert [(r.referral_id, r.status) for r in open_referrals_for_partner(s, 1)] == [
            (first, ServiceStatus.ACCEPTED)]
        assert open_referrals_for_partner(s, 2) == []  # answered for good: no longer the partner's to act on


def test_a_referral_sent_again_has_a_new_id_and_the_old_one_answers_nothing(
        db: Database, clock: TestClock, referred: Callable[..., str]) -> None:
    rid = referred()
    with db.transaction() as s:
        row = referral_by_id(s, rid)
        item_id, consent_id, case_id = row.plan_item_id, row.consent_id, row.case_id
        item = s.get(PlanItem, item_id)
        assert item is not None and consent_id is not None
        again = record_referral(s, item, case_id, by="aino", consent_id=consent_id, at=clock())
        new_id = again.referral_id
        assert service_statuses(s, case_id) == {item_id: ServiceStatus.REQUESTED}
    assert new_id != rid
    with pytest.raises(NotFound):
        answer(db, clock, rid, "accepted")
    assert answer(db, clock, str(new_id), "accepted") is ServiceStatus.ACCEPTED


def test_an_oral_consent_needs_its_witness(db: Database, clock: TestClock, staff: None,
                                          new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        partner_id = add_partner(s, "Kuvitteellinen paja", PartnerKind.NGO).id
        with pytest.raises(CaseworkError, match="witness"):
            record_consent(s, get_case(s, case_id).client_id, partner_id, "ohjaus", clock(), recorded_by="aino",
                           method=ConsentMethod.ORAL, witness=" ")


def test_a_case_manager_change_sends_the_next_answer_to_the_new_one(db: Database, clock: TestClock,
                                                                    referred: Callable[..., str]) -> None:
    rid = referred()
    answer(db, clock, rid, "accepted")
    with db.transaction() as s:
        case_id = referral_by_id(s, rid).case_id
        assign(s, case_id, "bertta", AssignmentReason.WORKLOAD, clock())
    answer(db, clock, rid, "started")
    with db.transaction() as s:
        assert [m.recipient for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))] == [
            "staff:aino", "staff:bertta"]
