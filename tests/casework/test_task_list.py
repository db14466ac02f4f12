"""The inbox's task list: tabs for a coordinator, a case manager and a team lead, filters, sorting, pages,
follow-up dates, comments and saved filters, on a real database with real cases."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from casework.case_manager import AssignmentReason, assign
from casework.client import register_client
from casework.client_case import open_case, record_decision
from casework.errors import NotFound, Refused
from casework.identity_code import IdentityCodeKeys
from casework.staff import Staff, load_staff
from casework.task_access import TaskPeople, leads_task, may_see
from casework.task_comments import add_comment, comments_of
from casework.task_filters import SavedCriteria, delete_filter, filters_for, get_filter, save_filter
from casework.task_list import Page, Sort, Tab, TaskFilter, count, listing, tab_counts
from casework.teams import add_member, add_team
from casework.users import Role, add_user
from engine.models import Task, TaskEvent, TaskStatus
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import flow, process

# Each case waits at two tasks: needs mapping (coordinators) and a team review (workAbilityTeam).
INBOX_PROCESS = process("inbox_case", (
    '<bpmn:startEvent id="start"/><bpmn:parallelGateway id="fork"/>'
    '<bpmn:userTask id="mapping" name="Needs mapping" camunda:candidateGroups="coordinators"/>'
    '<bpmn:userTask id="review" name="Team review" camunda:candidateGroups="workAbilityTeam"/>'
    '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
    + flow("f1", "start", "fork") + flow("f2", "fork", "mapping") + flow("f3", "fork", "review")
    + flow("f4", "mapping", "join") + flow("f5", "review", "join") + flow("f6", "join", "end")))
# name, fictitious identity code (900-999 series), case number, case manager
CLIENTS = [("Aino Aaltonen", "010190-900P", "K-1", "anna"), ("Bertta Virtanen", "131052-930V", "K-2", None),
           ("Cecilia Korhonen", "290200A901C", "K-3", "pekka")]
# user, name, role, team, leads
PEOPLE = [("anna", "Anna Koordinaattori", Role.COORDINATOR, "north"),
          ("ville", "Ville Koordinaattori", Role.COORDINATOR, "north"),
          ("pekka", "Pekka Sosiaalityö", Role.CASE_MANAGER, "north"),
          ("maria", "Maria Esihenkilö", Role.TEAM_LEAD, "north"),
          ("olli", "Olli Etelä", Role.COORDINATOR, "south"),
          ("sanna", "Sanna Etelä", Role.TEAM_LEAD, "south")]


MAPPING = TaskFilter(task_definition_key="mapping")


@dataclass
class World:
    engine: Engine
    keys: IdentityCodeKeys
    clock: TestClock
    cases: dict[str, str]  # case number -> case id

    def staff(self, user: str) -> Staff:
        with self.engine.db.read() as session:
            staff = load_staff(session, user)
        assert staff is not None
        return staff

    def task(self, case_number: str, element: str) -> str:
        return next(t.id for t in self.engine.open_tasks(self.cases[case_number]) if t.element_id == element)

    def tab(self, user: str, tab: Tab, filt: TaskFilter | None = None, page: Page | None = None) -> list[str]:
        """(case number, step) of each row, as listed."""
        with self.engine.db.read() as session:
            result = listing(session, self.staff(user), tab, self.clock(), filt or TaskFilter(), page or Page(),
                             self.keys)
        return [f"{r.business_key}/{r.element_id}" for r in result.rows]

    def counts(self, user: str) -> dict[str, int]:
        with self.engine.db.read() as session:
            return {t.value: n for t, n in tab_counts(session, self.staff(user), self.clock()).items()}


def build_world(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> World:
    """Two teams: north answers for the diagram's groups; south for groups of its own (its own diagram),
    so nothing of north's work reaches south."""
    engine.deploy({"inbox_case.bpmn": INBOX_PROCESS})
    with engine.db.transaction() as s:
        add_team(s, "north", "Pohjoinen työkykytiimi", clock())
        add_team(s, "south", "Eteläinen työkykytiimi", clock(),
                 groups={"coordinatorsSouth": Role.COORDINATOR, "teamSouth": None})
        for user, name, role, team in PEOPLE:
            add_user(s, user, name, [role], clock())
            add_member(s, team, user)
    cases: dict[str, str] = {}
    for n, (name, code, number, manager) in enumerate(CLIENTS):
        clock.advance(minutes=1)
        case_id = engine.start("inbox_case", business_key=number)
        cases[number] = case_id
        with engine.db.transaction() as s:
            client = register_client(s, keys, name=name, identity_code=code, at=clock())
            open_case(s, case_id, client.id, clock(), referrer="Työllisyyspalvelut")
            record_decision(s, case_id, needs_case_manager=True, at=clock())
            if manager:
                assign(s, case_id, manager, AssignmentReason.INITIAL, clock(), by="maria")
        # due dates: K-1 overdue tomorrow's view, K-2 in a week, K-3 none
        mapping = next(t.id for t in engine.open_tasks(case_id) if t.element_id == "mapping")
        due = {0: clock() + timedelta(days=1), 1: clock() + timedelta(days=7)}.get(n)
        if due is not None:
            engine.set_dates(mapping, due, None, actor="maria")
    return World(engine, keys, clock, cases)


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    return build_world(engine, clock, IdentityCodeKeys(secrets.token_urlsafe(32)))


def test_a_coordinator_sees_the_groups_work_and_after_claiming_it_as_their_own(world: World) -> None:
    # mapping is offered to coordinators, the review to every member of the team
    assert world.counts("anna") == {"mine": 0, "groups": 6, "follow_up": 0, "all": 6}
    assert world.tab("anna", Tab.GROUPS, MAPPING) == ["K-1/mapping", "K-2/mapping", "K-3/mapping"]  # by due
    world.engine.claim(world.task("K-2", "mapping"), "anna")
    assert world.counts("anna") == {"mine": 1, "groups": 5, "follow_up": 0, "all": 6}
    assert world.tab("anna", Tab.MINE) == ["K-2/mapping"]
    assert world.counts("ville") == {"mine": 0, "groups": 5, "follow_up": 0, "all": 5}  # claimed: gone for others


def test_a_case_manager_sees_the_team_review_offered_to_every_member_but_no_coordinator_work(world: World) -> None:
    assert world.counts("pekka") == {"mine": 0, "groups": 3, "follow_up": 0, "all": 3}
    assert {row.split("/")[1] for row in world.tab("pekka", Tab.ALL)} == {"review"}


def test_a_team_lead_sees_the_teams_work_including_what_members_hold(world: World) -> None:
    world.engine.claim(world.task("K-1", "mapping"), "ville")
    counts = world.counts("maria")
    assert counts["all"] == 6 and counts["mine"] == 0
    assert counts["groups"] == 3  # only workAbilityTeam is offered to her (teamLeads: none waiting)
    assert "K-1/mapping" in world.tab("maria", Tab.ALL)


def test_another_team_sees_nothing_of_it(world: World) -> None:
    world.engine.claim(world.task("K-1", "mapping"), "anna")
    for user in ("olli", "sanna"):
        assert world.counts(user) == {"mine": 0, "groups": 0, "follow_up": 0, "all": 0}
        assert world.tab(user, Tab.ALL) == []


def test_the_lists_agree_with_the_access_rule_task_by_task(world: World) -> None:
    world.engine.claim(world.task("K-1", "mapping"), "anna")
    world.engine.claim(world.task("K-3", "review"), "pekka")
    world.engine.claim(world.task("K-2", "review"), "anna")
    world.engine.set_dates(world.task("K-2", "review"), None, world.clock() + timedelta(days=1), actor="anna")
    with world.engine.db.read() as session:
        tasks = list(session.scalars(select(Task).where(Task.status == TaskStatus.OPEN)))
        for user, *_ in PEOPLE:
            staff = world.staff(user)
            listed = {r.id for r in listing(session, staff, Tab.ALL, world.clock(), page=Page(limit=1000)).rows}
            # task_access's documented rule: a candidate sees a task only while it is unclaimed (may_see alone
            # also lets a candidate open a colleague's claimed task; the list does not show those)
            allowed = {t.id for t in tasks if may_see(session, staff, TaskPeople.of(t))
                       and (t.assignee in (None, staff.id) or leads_task(session, staff, TaskPeople.of(t)))}
            assert listed == allowed, user
            # the tab counts (a named SQL query) agree with the lists (built from tab_clause)
            assert tab_counts(session, staff, world.clock()) == {
                tab: count(session, staff, tab, world.clock()) for tab in Tab}, user


def test_a_follow_up_date_parks_the_task_until_that_day(world: World) -> None:
    task_id = world.task("K-1", "mapping")
    world.engine.claim(task_id, "anna")
    world.engine.set_dates(task_id, None, world.clock() + timedelta(days=2), actor="anna")
    assert world.counts("anna")["follow_up"] == 1 and world.tab("anna", Tab.MINE) == []
    world.clock.advance(days=1)
    assert world.tab("anna", Tab.FOLLOW_UP) == ["K-1/mapping"]
    world.clock.advance(days=1)  # the day has come: back in "mine"
    assert world.tab("anna", Tab.MINE) == ["K-1/mapping"] and world.counts("anna")["follow_up"] == 0


def test_changing_dates_is_recorded_in_the_tasks_history_and_the_same_dates_again_write_nothing(world: World) -> None:
    task_id = world.task("K-3", "mapping")
    due = world.clock() + timedelta(days=3)
    world.engine.set_dates(task_id, due, None, actor="maria")
    world.engine.set_dates(task_id, due, None, actor="maria")
    history = world.engine.task_history(task_id)
    assert [e.kind for e in history] == ["created", "dates"]
    assert history[1].actor == "maria" and history[1].from_value == "due=;followUp="
    assert history[1].to_value == f"due={due.isoformat()};followUp="
    with world.engine.db.read() as session:
        stored = session.scalar(select(Task.due).where(Task.id == task_id))
        assert stored is not None and stored.replace(tzinfo=due.tzinfo) == due
        assert len(list(session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)))) == 1


def test_filters_narrow_the_list(world: World) -> None:
    world.clock.advance(days=2)  # K-1's due date has passed
    groups = Tab.GROUPS
    assert world.tab("anna", groups, TaskFilter(overdue=True)) == ["K-1/mapping"]
    assert world.tab("anna", groups, TaskFilter(due_before=world.clock() + timedelta(days=30))) == [
        "K-1/mapping", "K-2/mapping"]
    assert sorted(world.tab("anna", groups, TaskFilter(business_key="K-3"))) == ["K-3/mapping", "K-3/review"]
    assert world.tab("anna", groups, TaskFilter(task_definition_key="review", business_key="K-2")) == ["K-2/review"]
    assert world.tab("pekka", groups, TaskFilter(task_definition_key="mapping")) == []
    assert world.tab("pekka", groups, TaskFilter(client="virta")) == ["K-2/review"]  # part of a name
    assert world.tab("pekka", groups, TaskFilter(client="290200A901C")) == ["K-3/review"]  # identity code, exact
    assert world.tab("pekka", groups, TaskFilter(client="290200a901c ")) == ["K-3/review"]  # spaces and case
    assert world.tab("pekka", groups, TaskFilter(client="290200A9")) == []  # part of a code finds nothing
    assert world.tab("pekka", groups, TaskFilter(client_hash=world.keys.search_hash("131052-930V"))) == ["K-2/review"]
    with world.engine.db.read() as session:
        assert count(session, world.staff("anna"), groups, world.clock(), TaskFilter(client="aaltonen"),
                     world.keys) == 2


def test_sorting_by_any_column_either_way_with_empty_values_last(world: World) -> None:
    def rows(sort: Sort, descending: bool = False) -> list[str]:
        return world.tab("anna", Tab.GROUPS, MAPPING, Page(sort=sort, descending=descending))

    assert rows(Sort.DUE, descending=True) == ["K-2/mapping", "K-1/mapping", "K-3/mapping"]
    assert rows(Sort.CLIENT, descending=True) == ["K-3/mapping", "K-2/mapping", "K-1/mapping"]  # by the full name
    assert rows(Sort.CLIENT) == ["K-1/mapping", "K-2/mapping", "K-3/mapping"]
    assert rows(Sort.CASE_MANAGER) == ["K-1/mapping", "K-3/mapping", "K-2/mapping"]  # Anna, Pekka, then none
    assert rows(Sort.CASE_MANAGER, descending=True) == ["K-3/mapping", "K-1/mapping", "K-2/mapping"]
    assert rows(Sort.CREATED, descending=True) == ["K-3/mapping", "K-2/mapping", "K-1/mapping"]
    assert rows(Sort.BUSINESS_KEY, descending=True) == ["K-3/mapping", "K-2/mapping", "K-1/mapping"]


def test_pages_split_the_list_and_the_total_counts_them_all(world: World) -> None:
    with world.engine.db.read() as session:
        first = listing(session, world.staff("maria"), Tab.ALL, world.clock(), page=Page(sort=Sort.NAME, limit=4))
        second = listing(session, world.staff("maria"), Tab.ALL, world.clock(),
                         page=Page(sort=Sort.NAME, offset=4, limit=4))
    assert first.total == second.total == 6
    assert len(first.rows) == 4 and len(second.rows) == 2
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}


def test_rows_carry_the_case_client_and_case_manager(world: World) -> None:
    with world.engine.db.read() as session:
        rows = listing(session, world.staff("anna"), Tab.GROUPS, world.clock(), MAPPING,
                       Page(sort=Sort.BUSINESS_KEY)).rows
    first = rows[0]
    assert (first.business_key, first.client_name, first.client_initials, first.case_manager_name) == (
        "K-1", "Aino Aaltonen", "A.A.", "Anna Koordinaattori")
    assert first.due is not None and first.due.tzinfo is not None and first.created_at.tzinfo is not None
    assert rows[1].case_manager_name is None


def test_comments_belong_to_those_who_may_see_the_task(world: World) -> None:
    task_id = world.task("K-1", "mapping")
    with world.engine.db.transaction() as session:
        add_comment(session, task_id, world.staff("anna"), "  Soitin asiakkaalle, ei vastannut.  ", world.clock())
        add_comment(session, task_id, world.staff("maria"), "Yritä uudelleen huomenna.", world.clock())
        with pytest.raises(Refused):
            add_comment(session, task_id, world.staff("olli"), "Minäkin", world.clock())
        with pytest.raises(Refused):
            add_comment(session, task_id, world.staff("anna"), "   ", world.clock())
        with pytest.raises(NotFound):
            add_comment(session, "no-such-task", world.staff("anna"), "x", world.clock())
    with world.engine.db.read() as session:
        comments = comments_of(session, task_id)
    assert [(c.author, c.author_name, c.text) for c in comments] == [
        ("anna", "Anna Koordinaattori", "Soitin asiakkaalle, ei vastannut."),
        ("maria", "Maria Esihenkilö", "Yritä uudelleen huomenna.")]


def test_saved_filters_for_oneself_or_shared_with_the_team(world: World) -> None:
    anna, ville, olli = world.staff("anna"), world.staff("ville"), world.staff("olli")
    criteria = SavedCriteria(tab="groups", step="mapping", overdue=True, sort="client", columns=("client", "due"))
    with world.engine.db.transaction() as session:
        own = save_filter(session, anna, "Omat myöhässä", criteria, world.clock())
        shared = save_filter(session, anna, "Tiimin kartoitukset", criteria, world.clock(), team_id="north")
        with pytest.raises(Refused):
            save_filter(session, anna, "omat MYÖHÄSSÄ", criteria, world.clock())  # the same name
        with pytest.raises(Refused):
            save_filter(session, anna, "Etelän", criteria, world.clock(), team_id="south")  # not her team
    with world.engine.db.transaction() as session:
        assert [f.name for f in filters_for(session, anna)] == ["Omat myöhässä", "Tiimin kartoitukset"]
        assert [f.name for f in filters_for(session, ville)] == ["Tiimin kartoitukset"]
        assert filters_for(session, olli) == []
        assert get_filter(session, ville, shared.id).saved == criteria
        with pytest.raises(NotFound):
            get_filter(session, ville, own.id)
        with pytest.raises(Refused):
            delete_filter(session, ville, shared.id)  # only its owner deletes it
        delete_filter(session, anna, shared.id)
        assert filters_for(session, ville) == []
