"""Who may open a case (casework.case_access): every role with and without a relationship, the list condition
(`visible_cases_clause`, which search uses) agreeing with the rule case by case, and a refused attempt logged.
The page-level matrix (status codes, one access-log row per open) is tests/webapp/test_case_page.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.case_access import Relationship, case_access, log_denied, visible_cases_clause
from casework.case_manager import AssignmentReason, assign
from casework.client import register_client
from casework.client_case import ClientCase, open_case, record_decision
from casework.consent import record_consent, revoke_consent
from casework.identity_code import IdentityCodeKeys
from casework.network import PartnerKind, add_partner
from casework.plan import Goal, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import record_referral
from casework.staff import Staff, load_staff
from casework.teams import add_member, add_team
from casework.users import Role, add_user, get_user
from engine.db import Database
from engine.runtime import Engine
from tests.casework.conftest import CODES
from tests.conftest import TestClock
from tests.diagrams import chain, process

OFFERED = process("offered_case", '<bpmn:startEvent id="start"/>'
                  '<bpmn:userTask id="decide" name="Decide" camunda:candidateGroups="coordinators"/>'
                  '<bpmn:endEvent id="end"/>' + chain("start", "decide", "end"))
PEOPLE = [  # (id, roles, team); a team lead leads the team they are in
    ("aino", [Role.COORDINATOR], "north"),  # the case manager
    ("cecilia", [Role.CASE_MANAGER], "north"),
    ("tiina", [Role.TEAM_LEAD], "north"),
    ("bertta", [Role.COORDINATOR], "south"),
    ("sanna", [Role.TEAM_LEAD], "south"),
    ("kalle", [Role.COORDINATOR], "pool"),  # answers for the coordinators' group
    ("jaana", [Role.MANAGER], None),
    ("aki", [Role.ADMIN], None),
    ("hilkka", [Role.PARTNER], None),  # the health partner's account
    ("erkki", [Role.PARTNER], None),  # another partner's account
]


class Setting:
    def __init__(self, db: Database, engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> None:
        self.db, self.engine, self.clock = db, engine, clock
        engine.deploy({"offered.bpmn": OFFERED})
        now = clock()
        with db.transaction() as s:
            add_team(s, "north", "North", now, groups={})
            add_team(s, "south", "South", now, groups={})
            add_team(s, "pool", "Coordinators", now, groups={"coordinators": Role.COORDINATOR})
            self.health = add_partner(s, "Terveysasema", PartnerKind.HEALTH_CARE).id
            self.other = add_partner(s, "Työpaja ry", PartnerKind.NGO).id
            for user, roles, team in PEOPLE:
                add_user(s, user, user.title(), roles, now)
                if team:
                    add_member(s, team, user)
            get_user(s, "hilkka").partner_id = self.health
            get_user(s, "erkki").partner_id = self.other
        self.managed = self.case(keys, CODES[0])
        self.offered = self.case(keys, CODES[1])
        with db.transaction() as s:
            record_decision(s, self.managed, True, now)
            assign(s, self.managed, "aino", AssignmentReason.INITIAL, now)
            record = s.get(ClientCase, self.managed)
            assert record is not None and record.team_id == "north"  # the case manager's team
            self.client = record.client_id
            self.consent = record_consent(s, self.client, self.health, "terveystarkastus", now, "aino").id
            version = save_plan(s, self.managed, PlanDraft(
                goals=[Goal("Työkokeilu", now.date() + timedelta(days=90), "aino", main=True)],
                services=[PlannedService(ServiceType.HEALTH_CHECK, "Terveysasema", "hoitaja",
                                         now.date() + timedelta(days=30), partner_id=self.health)]), "aino", now)
            service = next(i for i in version.items if i.partner_id == self.health)
            record_referral(s, service, self.managed, by="aino", consent_id=self.consent, at=now)

    def case(self, keys: IdentityCodeKeys, code: str) -> str:
        case_id = self.engine.start("offered_case", business_key=f"K-{code[-4:]}")
        with self.db.transaction() as s:
            client = register_client(s, keys, name=f"Testi {code[-4:]}", identity_code=code, at=self.clock())
            open_case(s, case_id, client.id, self.clock())
        return case_id

    def staff(self, user: str) -> Staff:
        with self.db.read() as s:
            found = load_staff(s, user)
        assert found is not None
        return found

    def relationship(self, user: str, case_id: str) -> Relationship | None:
        with self.db.read() as s:
            found = case_access(s, self.staff(user), case_id, self.clock())
        return found.relationship if found else None

    def listed(self, user: str) -> set[str]:
        with self.db.read() as s:
            return set(s.scalars(select(ClientCase.case_id).where(visible_cases_clause(self.staff(user)))))


@pytest.fixture
def setting(db: Database, engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> Setting:
    return Setting(db, engine, clock, keys)


MANAGED = {"aino": Relationship.CASE_MANAGER, "cecilia": Relationship.TEAM_MEMBER, "tiina": Relationship.TEAM_LEAD,
           "bertta": None, "sanna": None, "jaana": None, "aki": None, "erkki": None,
           "hilkka": Relationship.PARTNER,
           # the managed case's task is offered to the coordinators too: kalle answers for them
           "kalle": Relationship.TASK}
OFFERED_CASE = {"kalle": Relationship.TASK, "aino": None, "cecilia": None, "tiina": None, "bertta": None,
                "sanna": None, "jaana": None, "aki": None, "hilkka": None, "erkki": None}


def test_each_role_with_and_without_a_relationship(setting: Setting) -> None:
    for case_id, expected in ((setting.managed, MANAGED), (setting.offered, OFFERED_CASE)):
        found = {user: setting.relationship(user, case_id) for user in expected}
        assert found == expected


def test_the_list_condition_agrees_with_the_rule_for_every_person_and_case(setting: Setting) -> None:
    for user, *_ in PEOPLE:
        listed = setting.listed(user)
        for case_id in (setting.managed, setting.offered):
            found = setting.relationship(user, case_id)
            assert (case_id in listed) == (found is not None and found.whole_case), (user, case_id)


def test_a_claimed_task_is_no_longer_offered_and_a_revoked_consent_ends_the_partners_access(
        setting: Setting) -> None:
    task = setting.engine.open_tasks(setting.offered)[0]
    setting.engine.claim(task.id, "kalle")
    assert setting.relationship("kalle", setting.offered) is Relationship.TASK  # now assigned to him
    setting.engine.claim(task.id, None, actor="kalle")  # given back, then claimed by someone outside the pool
    setting.engine.claim(task.id, "bertta", actor="sanna")
    assert setting.relationship("kalle", setting.offered) is None
    assert setting.relationship("bertta", setting.offered) is Relationship.TASK
    with setting.db.transaction() as s:
        revoke_consent(s, setting.consent, setting.clock(), "aino")
    setting.clock.advance(seconds=1)
    assert setting.relationship("hilkka", setting.managed) is None


def test_a_refused_attempt_is_logged_as_denied(setting: Setting) -> None:
    with setting.db.transaction() as s:
        log_denied(s, setting.staff("bertta"), setting.managed, "case page", setting.clock())
    with setting.db.read() as s:
        row = s.scalars(select(AccessLogEntry)).one()
    assert (row.user_id, row.role, row.action, row.case_id, row.client_id) == (
        "bertta", "coordinator", AccessAction.DENIED, setting.managed, setting.client)
