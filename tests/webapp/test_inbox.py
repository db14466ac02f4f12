"""The inbox page as people use it: tabs, claim and give back, a team lead assigning, dates, comments,
filters (also by identity code, kept out of URLs and the session), sorting, pages, the JSON list, and
the access log written once per page."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from casework.access_log import AccessLogEntry
from casework.identity_code import IdentityCodeKeys
from casework.task_comments import comments_of
from casework.users import StaffUser
from engine.runtime import Engine
from tests.casework.test_task_list import World, build_world
from tests.conftest import TestClock
from tests.webapp.support import app_client, password_hash, sign_in


@pytest.fixture
def world(engine: Engine, clock: TestClock) -> World:
    world = build_world(engine, clock, IdentityCodeKeys(secrets.token_urlsafe(32)))
    with engine.db.transaction() as session:
        for user in session.scalars(select(StaffUser)):
            user.password_hash = password_hash()
            user.language = "en"  # the texts below are the English source strings (Finnish is the default)
    return world


@pytest.fixture
def browser(world: World) -> Iterator[Any]:
    """A function giving a signed-in client per person, all on one app."""
    first = app_client(world.engine, accounts={}, IDENTITY_CODE_KEYS=world.keys)
    app = first.application

    def signed_in(user: str, **config: Any) -> FlaskClient:
        app.config.update(config)
        client = app.test_client()
        sign_in(client, user)
        return client

    yield signed_in


def token(client: FlaskClient, path: str = "/inbox") -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def post(browser_client: FlaskClient, path: str, follow: bool = True, **data: Any) -> Any:
    return browser_client.post(path, data={"csrf_token": token(browser_client), **data}, follow_redirects=follow)


def tab_counts(page: str) -> dict[str, int]:
    return {tab: int(n) for tab, n in re.findall(r'id="tab-(\w+)"[^>]*>\s*[^<]*<span class="polku-count">\((\d+)\)',
                                                 page)}


def listed(page: str) -> list[str]:
    """The task ids of the rows, in order."""
    return re.findall(r'<tr id="task-row-([^"]+)"', page)


def access_rows(world: World, user: str) -> int:
    with world.engine.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AccessLogEntry)
                                  .where(AccessLogEntry.user_id == user)) or 0)


def test_the_inbox_needs_a_signed_in_staff_member(world: World) -> None:
    client = app_client(world.engine, accounts={})
    assert client.get("/inbox").status_code == 302
    assert "/login" in client.get("/inbox").headers["Location"]
    assert client.get("/inbox.json").status_code == 302


def test_signing_in_leads_to_the_inbox_with_counts_on_each_tab(world: World, browser: Any) -> None:
    anna = browser("anna")
    assert anna.get("/").headers["Location"].endswith("/inbox")
    page = anna.get("/inbox").get_data(as_text=True)
    assert tab_counts(page) == {"mine": 0, "groups": 6, "follow_up": 0, "all": 6}
    assert 'aria-current="page">' in page and "No tasks here." in page
    groups = anna.get("/inbox?tab=groups").get_data(as_text=True)
    assert len(listed(groups)) == 6 and "A.A." in groups and "Aino Aaltonen" not in groups  # initials by default
    assert tab_counts(browser("pekka").get("/inbox").get_data(as_text=True)) == {
        "mine": 0, "groups": 3, "follow_up": 0, "all": 3}
    assert tab_counts(browser("maria").get("/inbox").get_data(as_text=True))["all"] == 6


def test_claim_and_give_back_with_a_clear_message_each(world: World, browser: Any) -> None:
    anna = browser("anna")
    task_id = world.task("K-2", "mapping")
    page = post(anna, f"/inbox/tasks/{task_id}/claim", tab="groups").get_data(as_text=True)
    assert "You claimed Needs mapping (K-2). It is in your tasks." in page
    assert tab_counts(page)["groups"] == 5  # back on the groups tab, the task gone from it
    assert listed(anna.get("/inbox").get_data(as_text=True)) == [task_id]
    page = post(anna, f"/inbox/tasks/{task_id}/unclaim").get_data(as_text=True)
    assert "You gave Needs mapping (K-2) back to its group." in page
    assert world.engine.open_tasks(world.cases["K-2"])[0].assignee is None


def test_a_second_claim_is_a_clear_conflict_never_a_500(world: World, browser: Any) -> None:
    anna, ville = browser("anna"), browser("ville")
    task_id = world.task("K-1", "mapping")
    ville_token = token(ville, "/inbox?tab=groups")  # Ville has the list open with the task on it
    post(anna, f"/inbox/tasks/{task_id}/claim")
    answer = ville.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": ville_token, "tab": "groups"},
                        follow_redirects=True)
    assert answer.status_code == 200
    assert "Someone else has already claimed Needs mapping (K-1)." in answer.get_data(as_text=True)
    assert next(t for t in world.engine.open_tasks(world.cases["K-1"]) if t.id == task_id).assignee == "anna"


def test_a_post_without_the_csrf_token_is_refused(world: World, browser: Any) -> None:
    anna = browser("anna")
    task_id = world.task("K-1", "mapping")
    assert anna.post(f"/inbox/tasks/{task_id}/claim").status_code == 400
    assert world.engine.open_tasks(world.cases["K-1"])[0].assignee is None


def test_a_team_lead_assigns_to_a_person_of_the_team_with_a_reason(world: World, browser: Any) -> None:
    maria = browser("maria")
    task_id = world.task("K-3", "mapping")
    page = maria.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    assert 'id="assign-person"' in page and "Ville Koordinaattori" in page and "Olli" not in page
    missing = maria.post(f"/inbox/tasks/{task_id}/assign", data={"csrf_token": token(maria), "assignee": "ville"})
    assert missing.status_code == 400
    text = missing.get_data(as_text=True)
    assert 'href="#assign-reason"' in text and "Say why the task goes to this person." in text
    assert 'value="ville" selected' in text  # the choice is kept
    outsider = maria.post(f"/inbox/tasks/{task_id}/assign",
                          data={"csrf_token": token(maria), "assignee": "olli", "reason": "x"})
    assert outsider.status_code == 400 and "Choose a person of your team." in outsider.get_data(as_text=True)
    page = post(maria, f"/inbox/tasks/{task_id}/assign", assignee="ville",
                reason="Ville tuntee asiakkaan ennestään").get_data(as_text=True)
    assert "Needs mapping (K-3) is now assigned to Ville Koordinaattori." in page
    assert "Ville tuntee asiakkaan ennestään" in page  # in the task's history on the page
    last = world.engine.task_history(task_id)[-1]
    assert (last.kind, last.actor, last.to_value, last.reason) == ("assign", "maria", "ville",
                                                                   "Ville tuntee asiakkaan ennestään")
    anna = browser("anna")  # a coordinator may not assign
    assert 'id="assign-person"' not in anna.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    refused = post(anna, f"/inbox/tasks/{task_id}/assign", assignee="anna", reason="minä").get_data(as_text=True)
    assert "Only a team lead of the task&#39;s team can assign" in refused


def test_dates_park_a_task_in_follow_up_until_that_day(world: World, browser: Any, clock: TestClock) -> None:
    anna = browser("anna")
    task_id = world.task("K-2", "mapping")
    post(anna, f"/inbox/tasks/{task_id}/claim")
    follow_up = (clock() + timedelta(days=3)).date().isoformat()
    bad = anna.post(f"/inbox/tasks/{task_id}/dates", data={"csrf_token": token(anna), "due": "31.3.2026",
                                                            "follow_up": follow_up})
    assert bad.status_code == 400
    assert 'href="#task-due"' in bad.get_data(as_text=True) and f'value="{follow_up}"' in bad.get_data(as_text=True)
    page = post(anna, f"/inbox/tasks/{task_id}/dates", due="2026-03-31", follow_up=follow_up).get_data(as_text=True)
    assert "waits in Follow-up until 8.1.2026" in page
    assert "Dates changed by Anna Koordinaattori: due 12.1.2026 → 31.3.2026, follow-up – → 8.1.2026" in page
    assert tab_counts(anna.get("/inbox").get_data(as_text=True))["follow_up"] == 1
    clock.advance(days=3)
    anna = browser("anna")  # a new day, a new session (sessions end when idle by the same clock)
    inbox = anna.get("/inbox").get_data(as_text=True)
    assert listed(inbox) == [task_id] and tab_counts(inbox)["follow_up"] == 0


def test_comments_on_a_task(world: World, browser: Any) -> None:
    anna = browser("anna")
    task_id = world.task("K-1", "mapping")
    empty = anna.post(f"/inbox/tasks/{task_id}/comments", data={"csrf_token": token(anna), "text": "  "})
    assert empty.status_code == 400 and "Write the comment first." in empty.get_data(as_text=True)
    page = post(anna, f"/inbox/tasks/{task_id}/comments", text="Asiakas toivoo soittoa aamupäivällä.")
    assert "Comment added." in page.get_data(as_text=True)
    assert "Asiakas toivoo soittoa aamupäivällä." in browser("maria").get(f"/inbox/tasks/{task_id}").get_data(
        as_text=True)
    back = anna.post(f"/inbox/tasks/{task_id}/comments", data={"csrf_token": token(anna), "text": "Toinen",
                                                                "next": f"/tasks/{task_id}"})
    assert back.headers["Location"] == f"/tasks/{task_id}"
    with world.engine.db.read() as session:
        assert [c.author for c in comments_of(session, task_id)] == ["anna", "anna"]


def test_filters_post_and_stay_out_of_urls_and_the_session(world: World, browser: Any) -> None:
    pekka = browser("pekka")
    code = "290200A901C"
    answer = post(pekka, "/inbox/filter", follow=False, tab="groups", client=code, action="apply")
    assert answer.status_code == 302 and code not in answer.headers["Location"]
    page = pekka.get(answer.headers["Location"]).get_data(as_text=True)
    assert listed(page) == [world.task("K-3", "review")] and "(filtered)" in page
    assert code not in page  # the search box does not echo an identity code back
    with pekka.session_transaction() as session:
        assert code not in json.dumps(dict(session)) and code.lower() not in json.dumps(dict(session))
    post(pekka, "/inbox/filter", tab="groups", client="virt", action="apply")
    assert listed(pekka.get("/inbox?tab=groups").get_data(as_text=True)) == [world.task("K-2", "review")]
    post(pekka, "/inbox/filter", tab="groups", business_key="K-1", action="apply")
    assert listed(pekka.get("/inbox?tab=groups").get_data(as_text=True)) == [world.task("K-1", "review")]
    bad = pekka.post("/inbox/filter", data={"csrf_token": token(pekka), "due_before": "huomenna", "client": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'href="#filter-due-before"' in text and 'href="#filter-client"' in text
    assert 'value="huomenna"' in text  # the input is kept
    post(pekka, "/inbox/filter", action="clear")
    assert len(listed(pekka.get("/inbox?tab=groups").get_data(as_text=True))) == 3


def test_sorting_by_a_column_header_both_ways(world: World, browser: Any) -> None:
    anna = browser("anna")
    post(anna, "/inbox/filter", step="mapping", action="apply")
    ascending = anna.get("/inbox?tab=groups&sort=business_key").get_data(as_text=True)
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a id="sort-business_key"', ascending)
    assert 'href="/inbox?tab=groups&amp;sort=business_key&amp;order=desc"' in ascending
    order = [world.task(k, "mapping") for k in ("K-1", "K-2", "K-3")]
    assert listed(ascending) == order
    descending = anna.get("/inbox?tab=groups&sort=business_key&order=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in descending and listed(descending) == order[::-1]
    assert listed(anna.get("/inbox?tab=groups&sort=due&order=desc").get_data(as_text=True)) == [
        order[1], order[0], order[2]]


def test_pages_of_the_list(world: World, browser: Any) -> None:
    anna = browser("anna", INBOX_PAGE_SIZE=4)
    first = anna.get("/inbox?tab=groups&sort=created").get_data(as_text=True)
    assert len(listed(first)) == 4 and "Page 1 of 2" in first and 'id="page-next"' in first
    second = anna.get("/inbox?tab=groups&sort=created&page=2").get_data(as_text=True)
    assert len(listed(second)) == 2 and 'id="page-previous"' in second
    assert not set(listed(first)) & set(listed(second))


def test_overdue_is_said_in_words_not_only_in_colour(world: World, browser: Any, clock: TestClock) -> None:
    clock.advance(days=2)
    page = browser("anna").get("/inbox?tab=groups").get_data(as_text=True)
    row = re.search(rf'<tr id="task-row-{world.task("K-1", "mapping")}" class="polku-overdue">(.*?)</tr>', page,
                    re.S)
    assert row and "Overdue" in row.group(1)


def test_the_json_list_has_the_same_rows_and_full_names_only_when_turned_on(world: World, browser: Any) -> None:
    anna = browser("anna")
    data = anna.get("/inbox.json?tab=groups&sort=business_key").get_json()
    assert data["counts"] == {"mine": 0, "groups": 6, "follow_up": 0, "all": 6} and data["total"] == 6
    first = data["tasks"][0]
    assert (first["businessKey"], first["client"], first["caseManager"]) == ("K-1", "A.A.", "Anna Koordinaattori")
    assert first["url"] == f"/tasks/{first['id']}" or first["url"].endswith(first["id"])
    anna.application.config["INBOX_FULL_NAMES"] = True
    assert anna.get("/inbox.json?tab=groups&sort=business_key").get_json()["tasks"][0]["client"] == "Aino Aaltonen"


def test_the_access_log_is_written_once_per_page_naming_the_clients_shown(world: World, browser: Any) -> None:
    anna = browser("anna")
    inserts: list[str] = []
    engine = world.engine.db.engine

    def count_inserts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ACCESS_LOG"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", count_inserts)
    try:
        before = access_rows(world, "anna")
        anna.get("/inbox?tab=groups")
        assert len(inserts) == 1  # one statement for the page, whatever the number of rows
        assert access_rows(world, "anna") - before == 3  # the three clients on the page (two tasks each)
        anna.get("/inbox.json?tab=groups")
        assert len(inserts) == 2
        anna.get("/inbox")  # nothing of hers yet: no client shown, nothing logged
        assert len(inserts) == 2
    finally:
        event.remove(engine, "before_cursor_execute", count_inserts)
    with world.engine.db.read() as session:
        entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.user_id == "anna")).first()
    assert entry is not None and (entry.role, entry.what) == ("coordinator", "task inbox")


def test_saved_filters_for_oneself_and_shared_with_the_team(world: World, browser: Any) -> None:
    anna, ville, olli = browser("anna"), browser("ville"), browser("olli")
    post(anna, "/inbox/filter", tab="groups", step="review", action="apply")
    page = post(anna, "/inbox/filters", tab="groups", sort="business_key", name="Tiimin arviot",
                share="north").get_data(as_text=True)
    assert "Filter “Tiimin arviot” saved. Your team sees it too." in page
    post(anna, "/inbox/filters", tab="mine", name="Omat")
    shared_id = re.search(r'id="saved-filter-(\d+)">Tiimin arviot', ville.get("/inbox").get_data(as_text=True))
    assert shared_id and "Omat" not in ville.get("/inbox").get_data(as_text=True)
    applied = ville.get(f"/inbox?filter={shared_id.group(1)}")
    assert "tab=groups" in applied.headers["Location"] and "sort=business_key" in applied.headers["Location"]
    rows = listed(ville.get(applied.headers["Location"]).get_data(as_text=True))
    assert rows == [world.task(k, "review") for k in ("K-1", "K-2", "K-3")]
    assert "Tiimin arviot" not in olli.get("/inbox").get_data(as_text=True)
    refused = olli.get(f"/inbox?filter={shared_id.group(1)}", follow_redirects=True).get_data(as_text=True)
    assert "does not exist or is not shared with you" in refused
    dup = anna.post("/inbox/filters", data={"csrf_token": token(anna), "name": "omat", "tab": "mine"})
    assert dup.status_code == 400 and 'href="#filter-name"' in dup.get_data(as_text=True)


def test_a_person_of_another_team_sees_nothing_of_it(world: World, browser: Any) -> None:
    olli = browser("olli")
    task_id = world.task("K-1", "mapping")
    page = olli.get("/inbox?tab=all").get_data(as_text=True)
    assert tab_counts(page) == {"mine": 0, "groups": 0, "follow_up": 0, "all": 0} and listed(page) == []
    assert olli.get("/inbox.json?tab=all").get_json()["tasks"] == []
    assert olli.get(f"/inbox/tasks/{task_id}").status_code == 404
    assert olli.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": token(olli)}).status_code == 404
    assert olli.post(f"/inbox/tasks/{task_id}/comments",
                     data={"csrf_token": token(olli), "text": "hei"}).status_code == 404
    assert access_rows(world, "olli") == 0
