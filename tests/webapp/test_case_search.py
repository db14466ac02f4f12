"""Case search (/cases, /api/cases): by case number, by name, by identity code (exact, through the search hash),
only among the cases the searcher may open; names and identity codes never in a URL; the listed cases logged.
"""

from __future__ import annotations

import re
from datetime import date

import lxml.html
import pytest
from sqlalchemy import select

from casework.access_log import AccessAction, AccessLogEntry
from casework.client import Client
from casework.client_case import ClientCase
from casework.identity_code import fictitious_code
from tests.webapp.support import basic
from tests.webapp.test_case_page import Site, csrf, managed_case, new_case
from tests.webapp.test_case_page import site as site  # noqa: F401  (the fixture)

MANAGED_CODE = fictitious_code(date(1975, 5, 5), 951)


def results(page: str) -> list[list[str]]:
    table = lxml.html.fromstring(page).get_element_by_id("case-results-table", None)
    if table is None:
        return []
    return [[" ".join(td.text_content().split()) for td in row.findall("td")] for row in table.iter("tr")
            if row.findall("td")]


def search_form(site: Site, user: str, q: str, follow: bool = True) -> tuple[int, str, str | None]:
    client = site.client(user)
    token = csrf(client.get("/cases").get_data(as_text=True))
    response = client.post("/cases", data={"csrf_token": token, "q": q}, follow_redirects=False)
    location = response.headers.get("Location")
    if follow and response.status_code == 302:
        response = client.get(location)
    return response.status_code, response.get_data(as_text=True), location


@pytest.fixture
def cases(site: Site) -> tuple[str, str]:  # noqa: F811
    managed = managed_case(site, "Testi Aaltonen")
    with site.engine.db.transaction() as db:  # the managed client's code is known to the test
        record = db.get(ClientCase, managed)
        assert record is not None
        client = db.get(Client, record.client_id)
        assert client is not None
        client.identity_code_hash = site.world.services.keys.search_hash(MANAGED_CODE)
    return managed, new_case(site, "Malli Aaltonen")


def test_search_by_case_number_in_the_url_finds_the_case_the_user_may_open(site: Site, cases: tuple[str, str]
                                                                           ) -> None:  # noqa: F811
    managed, _ = cases
    key = site.key(managed)
    response = site.client("koordinaattori.ville").get(f"/cases?q={key}")
    assert response.status_code == 200
    rows = results(response.get_data(as_text=True))
    assert rows == [[key, "Testi Aaltonen", "open", "Ville Koordinaattori"]]
    assert f'href="/cases/{key}"' in response.get_data(as_text=True)
    with site.engine.db.read() as db:
        logged = db.scalars(select(AccessLogEntry).where(AccessLogEntry.user_id == "koordinaattori.ville",
                                                         AccessLogEntry.action == AccessAction.SEARCH)).all()
    assert [(r.case_id, r.what) for r in logged] == [(managed, "case search")]


def test_someone_without_a_relationship_finds_nothing_and_nothing_is_logged(site: Site, cases: tuple[str, str]
                                                                            ) -> None:  # noqa: F811
    managed, _ = cases
    response = site.client("ulkopuolinen.olli").get(f"/cases?q={site.key(managed)}")
    assert response.status_code == 200 and results(response.get_data(as_text=True)) == []
    assert "0 cases found." in response.get_data(as_text=True)
    status, page, _ = search_form(site, "ulkopuolinen.olli", "Aaltonen")
    assert results(page) == []
    with site.engine.db.read() as db:
        assert db.scalar(select(AccessLogEntry.id).where(AccessLogEntry.user_id == "ulkopuolinen.olli")) is None


def test_search_by_name_is_posted_kept_out_of_the_url_and_lists_only_visible_cases(site: Site, cases: tuple[str, str]
                                                                                   ) -> None:  # noqa: F811
    managed, new = cases
    status, page, location = search_form(site, "sosiaalityo.pekka", "aaltonen")
    assert location is not None and "aaltonen" not in location.lower()
    assert status == 200
    # pekka is in the managed case's team; the new case (no team, offered to coordinators) is not his
    assert [r[1] for r in results(page)] == ["Testi Aaltonen"]
    assert re.search(r'id="case-search-q"[^>]*value="aaltonen"', page)  # the search is shown as typed
    status, page, _ = search_form(site, "koordinaattori.anna", "Aaltonen")
    assert sorted(r[1] for r in results(page)) == ["Malli Aaltonen", "Testi Aaltonen"]
    reloaded = site.client("koordinaattori.anna").get("/cases")  # the search stays for a reload
    assert len(results(reloaded.get_data(as_text=True))) == 2


def test_search_by_identity_code_is_exact_and_the_code_is_neither_in_the_url_nor_shown(site: Site,
                                                                                      cases: tuple[str, str]
                                                                                      ) -> None:  # noqa: F811
    managed, _ = cases
    status, page, location = search_form(site, "koordinaattori.ville", MANAGED_CODE.lower())
    assert location is not None and MANAGED_CODE.lower() not in location.lower()
    assert [r[0] for r in results(page)] == [site.key(managed)]
    assert MANAGED_CODE not in page and MANAGED_CODE.lower() not in page
    with site.client("koordinaattori.ville").session_transaction() as session:
        assert MANAGED_CODE not in str(dict(session))  # kept as its keyed hash only
    other = fictitious_code(date(1975, 5, 6), 952)
    _, page, _ = search_form(site, "koordinaattori.ville", other)
    assert results(page) == []


def test_a_name_or_identity_code_in_the_url_is_refused_not_searched(site: Site, cases: tuple[str, str]
                                                                    ) -> None:  # noqa: F811
    client = site.client("koordinaattori.ville")
    for q in ("Aaltonen", MANAGED_CODE):
        response = client.get(f"/cases?q={q}")
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and "not put in a web address" in page
        assert q not in page.split("</header>", 1)[1]
    with site.engine.db.read() as db:
        assert db.scalar(select(AccessLogEntry.id).where(AccessLogEntry.action == AccessAction.SEARCH)) is None


def test_bad_input_is_explained_next_to_the_field_with_the_input_kept(site: Site, cases: tuple[str, str]
                                                                      ) -> None:  # noqa: F811
    status, page, _ = search_form(site, "koordinaattori.ville", "a")
    assert status == 400 and 'href="#case-search-q"' in page and "at least 2 letters" in page
    assert re.search(r'id="case-search-q"[^>]*value="a"', page)
    status, page, _ = search_form(site, "koordinaattori.ville", "")
    assert status == 400 and "Enter a case number, a name or an identity code." in page
    mistyped = MANAGED_CODE[:-1] + ("A" if MANAGED_CODE[-1] != "A" else "B")  # the check character wrong
    status, page, location = search_form(site, "koordinaattori.ville", mistyped, follow=False)
    assert status == 400 and location is None and "The identity code is not valid" in page
    response = site.client("koordinaattori.ville").get(f"/cases?q={mistyped}")
    assert response.status_code == 400 and mistyped not in response.get_data(as_text=True).split("</header>", 1)[1]


def test_search_is_offered_to_the_roles_that_work_with_cases_and_finds_nothing_for_others(
        site: Site, cases: tuple[str, str]) -> None:  # noqa: F811
    key = site.key(cases[0])
    for user in ("johtaja.jaana", "kumppani.terveys", "yllapito.aki"):
        response = site.client(user).get(f"/cases?q={key}")
        assert response.status_code == 200 and results(response.get_data(as_text=True)) == [], user
    page = site.client("koordinaattori.ville").get("/cases").get_data(as_text=True)
    assert 'href="/cases"' in page.split("</nav>", 1)[0]  # in the main navigation
    assert 'href="/cases"' not in site.client("johtaja.jaana").get("/inbox").get_data(as_text=True).split(
        "</nav>", 1)[0]


def test_the_api_searches_case_numbers_by_get_and_names_and_codes_by_post(site: Site, cases: tuple[str, str]
                                                                          ) -> None:  # noqa: F811
    managed, _ = cases
    key = site.key(managed)
    api = site.app.test_client()
    found = api.get(f"/api/cases?q={key}", headers=basic("esihenkilo.maria"))
    assert found.status_code == 200 and [c["businessKey"] for c in found.get_json()["cases"]] == [key]
    assert api.get("/api/cases?q=Aaltonen", headers=basic("esihenkilo.maria")).status_code == 400
    by_code = api.post("/api/cases/search", json={"q": MANAGED_CODE}, headers=basic("esihenkilo.maria"))
    assert [c["clientName"] for c in by_code.get_json()["cases"]] == ["Testi Aaltonen"]
    by_name = api.post("/api/cases/search", json={"q": "aaltonen"}, headers=basic("ulkopuolinen.olli"))
    assert by_name.status_code == 200 and by_name.get_json()["cases"] == []
    assert api.post("/api/cases/search", json={"q": "x"}, headers=basic("esihenkilo.maria")).status_code == 400
    assert api.get(f"/api/cases?q={key}", headers=basic("johtaja.jaana")).get_json() == {"cases": []}
    assert api.get("/api/cases", headers=basic("esihenkilo.maria")).get_json() == {"cases": []}
