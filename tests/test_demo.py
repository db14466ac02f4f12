"""The embedded default's demo: 30+ fictitious cases over every step, with the casework records behind them."""

from __future__ import annotations

import secrets
import stat
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from casework.case_manager import Assignment, cases_without_case_manager
from casework.client import Client
from casework.client_case import CaseStatus, ClientCase
from casework.identity_code import IdentityCodeKeys
from casework.letter import Letter
from casework.teams import get_team, group_members, team_members
from casework.users import Role, Unit, all_users, authenticate_password, get_user, users_with_role
from engine.models import Incident
from engine.runtime import Engine
from polku.demo import (
    DEMO,
    DEMO_USERS,
    PARTNER_ACCOUNT,
    PASSWORD_FILE,
    PASSWORD_VARIABLE,
    STAFF,
    TEAM,
    Demo,
    demo_password,
    load_demo,
    sign_in_note,
)
from polku.embedded import prepare
from polku.resources import collect_dir
from polku.settings import ROOT, Settings
from workers.services import Services


def test_demo_cases_cover_every_step_with_their_casework(engine: Engine, clock) -> None:
    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    ids = load_demo(engine, Services(engine.db, clock, IdentityCodeKeys(secrets.token_urlsafe(32)), None, engine))
    assert len(ids) == len(DEMO) >= 30
    cases = [engine.case(i) for i in ids]
    statuses = Counter(c["status"] for c in cases)
    assert statuses["active"] >= 20 and statuses["completed"] >= 4
    waiting = {element for i in ids for element in (t.element_id for t in engine.open_tasks(i))}
    assert {"needs_mapping", "mapping_escalation", "confirm_decision", "work_ability_team_review", "make_plan",
            "follow_up_review", "handover_plan", "handover_meeting", "obtain_consent", "name_new_case_manager",
            "confirm_handover_new", "identify_self_referred"} <= waiting
    with engine.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
        names = list(session.scalars(select(Client.name)))
        assert len(names) >= 28 and all(n.split()[0] in {"Testi", "Malli", "Esimerkki", "Demo", "Kuvitteellinen",
                                                          "Harjoitus", "Koe", "Keksitty"} for n in names)
        assert session.scalar(select(func.count()).select_from(ClientCase)
                              .where(ClientCase.status == CaseStatus.CLOSED)) >= 4
        assert session.scalar(select(func.count()).select_from(Assignment)) >= 15
        # the case managers' titles and units are on record: coordinators, a social worker, and the employment
        # services official who took a case over from a coordinator
        units = {(a.user_id, a.user_title, a.user_unit, a.to_at is None, a.reason.value)
                 for a in session.scalars(select(Assignment).where(Assignment.user_unit != Unit.WORK_ABILITY_SERVICES))}
        assert ("tyollisyys.eeva", "työllisyysasiantuntija", Unit.EMPLOYMENT_SERVICES, True, "better_fit") in units
        assert ("sosiaalityo.pekka", "sosiaalityöntekijä", Unit.SOCIAL_WORK, True, "initial") in units
        assert session.scalar(select(func.count()).select_from(Letter)) >= 15
        missing = [(DEMO[ids.index(c)], [t.element_id for t in engine.open_tasks(c)])
                   for c in cases_without_case_manager(session)]
        assert missing == []


def test_the_demo_team_answers_for_the_groups_and_its_people_sign_in_with_the_demo_password(
        engine: Engine, clock) -> None:
    services = Services(engine.db, clock, IdentityCodeKeys(secrets.token_urlsafe(32)), None, engine)
    Demo(engine, services).seed("demo-salasana-1234")
    with engine.db.transaction() as session:
        team = get_team(session, TEAM[0])
        assert {g.group for g in team.groups} == {"coordinators", "teamLeads", "workAbilityTeam"}
        assert sorted(m.user_id for m in team.members) == sorted(row[0] for row in STAFF)
        assert [u.id for u in group_members(session, "teamLeads")] == ["esihenkilo.maria"]
        assert {u.id for u in group_members(session, "coordinators")} == {
            "koordinaattori.anna", "koordinaattori.ville", "tiimi.terttu"}
        case_managers = {u.id: (u.title, u.unit) for u in users_with_role(session, Role.CASE_MANAGER)}
        assert case_managers == {"sosiaalityo.pekka": ("sosiaalityöntekijä", Unit.SOCIAL_WORK),
                                 "tyollisyys.eeva": ("työllisyysasiantuntija", Unit.EMPLOYMENT_SERVICES)}
        assert all(u.title and u.unit for u in team_members(session, [TEAM[0]]))
        partner = get_user(session, PARTNER_ACCOUNT[0])
        assert partner.roles == {Role.PARTNER} and partner.organisation == "Terveysasema Esimerkkilä"
        for user_id in DEMO_USERS:
            assert authenticate_password(session, user_id, "demo-salasana-1234") is not None, user_id
            assert authenticate_password(session, user_id, "another-password") is None


def test_the_demo_password_comes_from_the_environment_or_is_generated_once_into_var(tmp_path: Path) -> None:
    given = demo_password(tmp_path, {PASSWORD_VARIABLE: "from-the-environment"})
    assert (given.password, given.file, given.created) == ("from-the-environment", None, False)
    assert not (tmp_path / PASSWORD_FILE).exists()
    assert sign_in_note(given).startswith(f"Demo staff sign in with the password in {PASSWORD_VARIABLE}: ")
    with pytest.raises(ValueError, match="at least 12 characters"):
        demo_password(tmp_path, {PASSWORD_VARIABLE: "short"})

    first = demo_password(tmp_path / "var", {})
    assert first.created and len(first.password) >= 16 and first.file == tmp_path / "var" / PASSWORD_FILE
    assert stat.S_IMODE(first.file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert first.password in sign_in_note(first) and "koordinaattori.anna" in sign_in_note(first)
    again = demo_password(tmp_path / "var", {})
    assert (again.password, again.created) == (first.password, False)
    assert first.password not in sign_in_note(again) and str(first.file) in sign_in_note(again)


def test_serve_with_demo_data_shows_the_generated_password_once(engine: Engine, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    settings = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": secrets.token_urlsafe(32)})
    said: list[str] = []
    prepare(engine, settings, var_dir=tmp_path, say=said.append)
    password = (tmp_path / PASSWORD_FILE).read_text().strip()
    assert len(said) == 1 and password in said[0] and "esihenkilo.maria" in said[0]
    prepare(engine, settings, var_dir=tmp_path, say=said.append)  # a later start
    assert len(said) == 2 and password not in said[1] and str(tmp_path / PASSWORD_FILE) in said[1]
    with engine.db.transaction() as session:
        assert authenticate_password(session, "koordinaattori.anna", password) is not None
        assert session.scalar(select(func.count()).select_from(ClientCase)) >= 30


def test_without_demo_data_there_are_no_demo_accounts(engine: Engine, tmp_path: Path) -> None:
    settings = Settings.from_env({"POLKU_DATABASE_URL": "sqlite://", "POLKU_SECRET_KEY": secrets.token_urlsafe(32),
                                  "POLKU_BPMN_DIR": str(tmp_path / "empty")})
    (tmp_path / "empty").mkdir()
    said: list[str] = []
    prepare(engine, settings, var_dir=tmp_path, say=said.append)
    with engine.db.transaction() as session:
        assert all_users(session) == [] and said == []
    assert not (tmp_path / PASSWORD_FILE).exists()
