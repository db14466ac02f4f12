"""Consent to disclose, the access and disclosure logs, and the client's "who processed my data"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from casework.access_log import (
    AccessAction,
    accesses_of_client,
    disclosures_of_client,
    log_access,
    log_disclosure,
)
from casework.client_case import get_case
from casework.consent import has_valid_consent, record_consent, revoke_consent
from casework.errors import CaseworkError, Refused
from casework.network import PartnerKind, add_partner, add_responsibility, responsibilities
from engine.db import Database

if TYPE_CHECKING:
    from tests.conftest import TestClock


def test_consent_is_valid_only_between_given_and_expiry_or_revocation(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    t0 = clock()
    with db.transaction() as s:
        client_id = get_case(s, case_id).client_id
        kela = add_partner(s, "Kela", PartnerKind.KELA, unit="Turun toimisto").id
        ngo = add_partner(s, "Esimerkkiyhdistys ry", PartnerKind.NGO).id
        expiring = record_consent(s, client_id, kela, "kuntoutushakemus", t0, "aino",
                                  valid_until=t0 + timedelta(days=180))
        revoked = record_consent(s, client_id, ngo, "ryhmätoiminta", t0, "aino")
    with db.transaction() as s:
        assert not has_valid_consent(s, client_id, kela, t0 - timedelta(days=1))
        assert has_valid_consent(s, client_id, kela, t0 + timedelta(days=179))
        assert has_valid_consent(s, client_id, kela, t0 + timedelta(days=1), scope="kuntoutushakemus")
        assert not has_valid_consent(s, client_id, kela, t0 + timedelta(days=1), scope="terveystiedot")
        assert not has_valid_consent(s, client_id, kela, t0 + timedelta(days=180))
        assert expiring.valid_until is not None
        revoke_consent(s, revoked.id, t0 + timedelta(days=10), by="aino")
    with db.transaction() as s:
        assert has_valid_consent(s, client_id, ngo, t0 + timedelta(days=9))
        assert not has_valid_consent(s, client_id, ngo, t0 + timedelta(days=10))
        with pytest.raises(Refused, match="not in force"):
            log_disclosure(s, client_id=client_id, partner_id=ngo, what="yhteystiedot", by="aino",
                           at=t0 + timedelta(days=11), consent_id=revoked.id)


def test_disclosure_needs_consent_or_a_legal_basis_and_is_logged(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        client_id = get_case(s, case_id).client_id
        kela = add_partner(s, "Kela", PartnerKind.KELA).id
        te = add_partner(s, "Työllisyyspalvelut", PartnerKind.EMPLOYMENT_SERVICES).id
        consent = record_consent(s, client_id, kela, "kuntoutushakemus", clock(), "aino")
        with pytest.raises(Refused, match="consent or a legal basis"):
            log_disclosure(s, client_id=client_id, partner_id=te, what="suunnitelma", by="aino", at=clock())
        with pytest.raises(Refused, match="not this client's consent"):
            log_disclosure(s, client_id=client_id, partner_id=te, what="suunnitelma", by="aino", at=clock(),
                           consent_id=consent.id)
        log_disclosure(s, client_id=client_id, partner_id=kela, what="kuntoutushakemuksen liitteet", by="aino",
                       at=clock(), consent_id=consent.id, case_id=case_id)
        log_disclosure(s, client_id=client_id, partner_id=te, what="monialainen suunnitelma", by="aino",
                       at=clock(), legal_basis="laki 381/2023", case_id=case_id)
    with db.transaction() as s:
        rows = disclosures_of_client(s, client_id, now=clock())
        assert {(r.partner_id, r.consent_id, r.legal_basis) for r in rows} == {(kela, consent.id, None),
                                                                              (te, None, "laki 381/2023")}


def test_the_client_can_see_who_processed_their_data_two_years_back(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        client_id = get_case(s, case_id).client_id
        log_access(s, user_id="bertta", role="coordinator", client_id=client_id, action=AccessAction.VIEW,
                   what="lähete", why="palvelutarpeen arviointi", at=clock(), case_id=case_id)
    clock.advance(days=400)
    with db.transaction() as s:
        log_access(s, user_id="aino", role="case_manager", client_id=client_id, action=AccessAction.UPDATE,
                   what="suunnitelma v1", why="asiakasvastaava", at=clock(), case_id=case_id)
        with pytest.raises(CaseworkError, match="why"):
            log_access(s, user_id="aino", role="case_manager", client_id=client_id, action=AccessAction.VIEW,
                       what="asiakassivu", why=" ", at=clock())
    clock.advance(days=400)  # the first access is now more than two years old
    with db.transaction() as s:
        log_access(s, user_id="tiina", role="team_lead", client_id=client_id, action=AccessAction.VIEW,
                   what="asiakassivu", why="asiakasvastaavan vaihto", at=clock(), case_id=case_id)
    with db.transaction() as s:
        recent = accesses_of_client(s, client_id, now=clock())
        assert [(r.user_id, r.role, r.what, r.why) for r in recent] == [
            ("tiina", "team_lead", "asiakassivu", "asiakasvastaavan vaihto"),
            ("aino", "case_manager", "suunnitelma v1", "asiakasvastaava")]
        everything = accesses_of_client(s, client_id, now=clock(), since=clock() - timedelta(days=1000))
        assert [r.user_id for r in everything] == ["tiina", "aino", "bertta"]


def test_each_partner_responsibility_names_what_and_who(db: Database, clock: TestClock,
                                                        new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        rise = add_partner(s, "Rikosseuraamuslaitos", PartnerKind.CRIMINAL_SANCTIONS_AGENCY).id
        add_responsibility(s, case_id, rise, "Valvonta ja yhdyskuntaseuraamus", "Rita Rikosseuraamus", clock())
        with pytest.raises(CaseworkError, match="contact person"):
            add_responsibility(s, case_id, rise, "Asumisen tuki", "", clock())
    with db.transaction() as s:
        [row] = responsibilities(s, case_id, at=clock())
        assert (row.partner_id, row.contact_person) == (rise, "Rita Rikosseuraamus")
