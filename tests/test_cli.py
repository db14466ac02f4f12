"""The `polku` command run as a process, the way a process owner or an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.diagrams import chain, flow, process

POLKU = Path(sys.executable).with_name("polku")

REVIEW = process("review", '<bpmn:startEvent id="start"/><bpmn:userTask id="check" name="Check" '
                           'camunda:candidateGroups="leads" camunda:assignee="${owner}"/><bpmn:endEvent id="end"/>'
                 + chain("start", "check", "end"))
GROOVY = process("groovy", '<bpmn:startEvent id="start"/><bpmn:scriptTask id="calc" scriptFormat="groovy">'
                           '<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="end"/>'
                 + chain("start", "calc", "end"))
NO_TOPIC = process("no_topic", '<bpmn:startEvent id="start"/><bpmn:serviceTask id="send" camunda:type="external"/>'
                               '<bpmn:endEvent id="end"/>' + chain("start", "send", "end"))
FAILING = process("failing", '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="gw"/><bpmn:endEvent id="end"/>'
                  + flow("f1", "start", "gw") + flow("f2", "gw", "end", "${missing &gt; 1}"))
LOOP = process("loop", '<bpmn:startEvent id="start"/><bpmn:userTask id="again"/><bpmn:exclusiveGateway id="gw"/>'
                       '<bpmn:endEvent id="end"/>' + chain("start", "again", "gw")
               + flow("back", "gw", "again", "${true}") + flow("out", "gw", "end", "${false}"))
WORKED = process("worked", '<bpmn:startEvent id="start"/><bpmn:serviceTask id="send" camunda:type="external" '
                           'camunda:topic="letters"/><bpmn:intermediateCatchEvent id="wait">'
                           '<bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration>'
                           '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
                           '<bpmn:userTask id="close"/><bpmn:endEvent id="end"/>'
                 + chain("start", "send", "wait", "close", "end"))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "diagrams"
    folder.mkdir()
    for name, data in {"review.bpmn": REVIEW, "groovy.bpmn": GROOVY, "no_topic.bpmn": NO_TOPIC,
                       "failing.bpmn": FAILING, "loop.bpmn": LOOP, "worked.bpmn": WORKED,
                       "broken.bpmn": b"<bpmn:definitions", "notes.dmn": b"not a decision"}.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def polku(tmp_path: Path, files: Path):
    env = {**os.environ, "POLKU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.pop("POLKU_DEBUG", None)

    def run(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
        run_env = dict(env)
        if database is not None:
            run_env["POLKU_DATABASE_URL"] = database
        result = subprocess.run([str(POLKU), *args], cwd=files, env=run_env, capture_output=True, text=True,
                                timeout=120, check=False)
        assert "Traceback" not in result.stderr, result.stderr
        assert "Traceback" not in result.stdout, result.stdout
        return result

    return run


def test_the_console_script_is_installed():
    assert POLKU.exists(), f"install the project (pip install -e .): {POLKU} is missing"


# -- validate ---------------------------------------------------------------------------------------------


def test_validate_accepts_a_good_file(polku):
    result = polku("validate", "review.bpmn")
    assert result.returncode == 0
    assert "review" in result.stdout


def test_validate_lists_each_problem_as_file_element_reason(polku):
    result = polku("validate", "groovy.bpmn", "no_topic.bpmn", "review.bpmn")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert sorted(lines) == sorted([
        "groovy.bpmn: calc: script task is written in groovy; only Python scripts are supported",
        "no_topic.bpmn: send: external task has no camunda:topic",
    ])


def test_validate_reports_malformed_files_cleanly(polku):
    result = polku("validate", "broken.bpmn", "notes.dmn")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert {line.split(":")[0] for line in lines} == {"broken.bpmn", "notes.dmn"}
    assert all(line.count(": ") >= 2 for line in lines)


def test_validate_a_folder(polku, files):
    result = polku("validate", str(files))
    assert result.returncode == 1
    assert {line.split(":")[0] for line in result.stdout.strip().splitlines()} == {
        "broken.bpmn", "notes.dmn", "groovy.bpmn", "no_topic.bpmn"}


def test_validate_prints_warnings_on_stderr(polku, files):
    (files / "async.bpmn").write_bytes(REVIEW.replace(b'id="check"', b'id="check" camunda:asyncBefore="true"')
                                       .replace(b'id="review"', b'id="async_review"'))
    result = polku("validate", "async.bpmn")
    assert result.returncode == 0
    assert result.stderr.strip() == "warning: async.bpmn: check: camunda:asyncBefore is accepted and ignored"


def test_validate_a_missing_file(polku):
    result = polku("validate", "nowhere.bpmn")
    assert result.returncode != 0
    assert "nowhere.bpmn" in result.stderr


# -- simulate -------------------------------------------------------------------------------------------


def test_simulate_prints_where_the_case_waits(polku):
    result = polku("simulate", "review.bpmn", "--vars", '{"owner": "anna"}')
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "waiting"
    assert out["path"] == ["start"]
    assert out["waiting"] == [{"kind": "userTask", "id": "check", "name": "Check", "candidateGroups": ["leads"],
                               "assignee": "anna"}]
    assert out["variables"] == {"owner": "anna"}
    assert out["error"] is None


def test_simulate_drive_completes(polku):
    result = polku("simulate", "worked.bpmn", "--drive")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "completed"
    assert out["path"] == ["start", "send", "wait", "close", "end"]
    assert out["waiting"] == []


def test_simulate_without_drive_stops_at_the_job(polku):
    out = json.loads(polku("simulate", "worked.bpmn").stdout)
    assert out["waiting"] == [{"kind": "job", "id": "send", "name": None, "topic": "letters"}]


def test_simulate_invalid_file_exits_2_with_validate_lines(polku):
    result = polku("simulate", "groovy.bpmn")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == "groovy.bpmn: calc: script task is written in groovy; only Python scripts " \
                                    "are supported"


def test_simulate_malformed_file_exits_2(polku):
    result = polku("simulate", "broken.bpmn")
    assert result.returncode == 2
    assert result.stderr.startswith("broken.bpmn: ")


def test_simulate_process_error_exits_1_with_json(polku):
    result = polku("simulate", "failing.bpmn")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["status"] == "error"
    assert out["error"]["element"] == "gw"
    assert "missing" in out["error"]["message"]


def test_simulate_step_limit(polku):
    result = polku("simulate", "loop.bpmn", "--drive", "--max-steps", "5")
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["status"] == "step-limit"
    assert out["waiting"][0]["id"] == "again"
    assert out["path"].count("again") == 5


def test_simulate_chooses_the_process(polku):
    result = polku("simulate", "review.bpmn", "worked.bpmn", "--process", "worked")
    assert json.loads(result.stdout)["waiting"][0]["id"] == "send"
    result = polku("simulate", "review.bpmn", "worked.bpmn")
    assert result.returncode == 1
    assert "--process" in result.stderr
    result = polku("simulate", "review.bpmn", "--process", "nope")
    assert result.returncode == 1
    assert "nope" in result.stderr


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", "null", "42"])
def test_simulate_bad_vars(polku, bad):
    result = polku("simulate", "review.bpmn", "--vars", bad)
    assert result.returncode != 0
    assert "--vars" in result.stderr
    assert result.stdout == ""


def test_simulate_does_not_touch_the_database(polku, tmp_path):
    polku("simulate", "review.bpmn", "--vars", '{"owner": "x"}')
    assert json.loads(polku("cases", "--json").stdout) == []


# -- deploy, start, cases ------------------------------------------------------------------------------------


def test_deploy_start_and_list_cases(polku):
    first = polku("deploy", "review.bpmn")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "review v1"
    again = polku("deploy", "review.bpmn")
    assert again.stdout.strip() == "review v1 (unchanged)"

    started = polku("start", "review", "--business-key", "B-1", "--vars", '{"owner": "anna", "n": 2}')
    assert started.returncode == 0, started.stderr
    case_id = started.stdout.strip()
    assert len(case_id) == 36 and case_id.count("-") == 4

    listed = polku("cases", "--json")
    assert listed.returncode == 0
    (case,) = json.loads(listed.stdout)
    assert case["id"] == case_id
    assert (case["key"], case["version"], case["status"], case["businessKey"]) == ("review", 1, "active", "B-1")
    assert case["waiting"] == [{"kind": "userTask", "id": "check", "name": "Check", "candidateGroups": ["leads"],
                                "assignee": "anna"}]
    assert case["variables"] == {"owner": "anna", "n": 2}

    plain = polku("cases")
    assert case_id in plain.stdout and "active" in plain.stdout


def test_deploy_refuses_invalid_files(polku):
    result = polku("deploy", "groovy.bpmn")
    assert result.returncode == 1
    assert "groovy.bpmn: calc:" in result.stderr
    assert json.loads(polku("cases", "--json").stdout) == []


def test_start_bad_vars(polku):
    polku("deploy", "review.bpmn")
    for bad in ("{not json", "[]", '"text"'):
        result = polku("start", "review", "--vars", bad)
        assert result.returncode != 0
        assert "--vars" in result.stderr
        assert result.stdout == ""
    assert json.loads(polku("cases", "--json").stdout) == []


def test_start_unknown_key(polku):
    result = polku("start", "nope")
    assert result.returncode == 1
    assert "nope" in result.stderr


def test_start_with_a_process_error(polku):
    polku("deploy", "failing.bpmn")
    result = polku("start", "failing")
    assert result.returncode == 1
    assert "missing" in result.stderr


def test_db_upgrade(polku):
    result = polku("db", "upgrade")
    assert result.returncode == 0


# -- never a traceback ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("validate",), ("simulate",), ("start",), ("nonsense",), ("simulate", "review.bpmn", "--max-steps", "many"),
    ("deploy", "nowhere.bpmn"), ("simulate", "notes.dmn"), ("simulate", "nowhere.bpmn"),
])
def test_bad_arguments_give_a_message(polku, args):
    result = polku(*args)
    assert result.returncode != 0
    assert result.stderr.strip()


@pytest.mark.parametrize("database", ["nonsense", "sqlite:///{tmp}/diagrams/review.bpmn",
                                      "postgresql://nobody@127.0.0.1:1/none"])
def test_bad_database_url_gives_a_message(polku, tmp_path, database):
    result = polku("cases", database=database.format(tmp=tmp_path))
    assert result.returncode != 0
    assert result.stderr.strip()


# -- staff accounts and teams -------------------------------------------------------------------------------
@pytest.fixture
def staff_cli(database_url: str, tmp_path: Path):
    """`polku` against the test database, with standard input (the password) when given."""
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "cli-test-secret-key"}
    env.pop("POLKU_DEBUG", None)

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(POLKU), *args], input=stdin, env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=120, check=False)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        return result

    return run


def test_a_team_and_its_people_from_the_command_line(staff_cli, database_url: str) -> None:
    from casework.teams import group_members
    from casework.users import Unit, authenticate_password
    from engine.db import Database

    added = staff_cli("team", "add", "iisalmi", "--name", "Iisalmen työkykytiimi", "--municipality", "Iisalmi")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added team iisalmi: answers for coordinators (coordinator)")
    people = [("virkailija.eeva", "case_manager", "työllisyysasiantuntija", "employment_services"),
              ("sosiaalityo.saara", "case_manager", "sosiaalityöntekijä", "social_work"),
              ("esihenkilo.erkki", "team_lead", "palveluesihenkilö", "work_ability_services")]
    for name, role, title, unit in people:
        result = staff_cli("user", "add", name, "--role", role, "--team", "iisalmi", "--title", title,
                           "--unit", unit, stdin="a long enough password\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"added {name} ({role}) in iisalmi\n"

    listing = staff_cli("user", "list").stdout.splitlines()
    assert ("sosiaalityo.saara  case_manager  active  password  tokens: 0  title: sosiaalityöntekijä  "
            "unit: social_work  teams: iisalmi") in listing
    teams = staff_cli("team", "list").stdout.splitlines()
    assert teams == ["iisalmi  Iisalmen työkykytiimi  municipality: Iisalmi  groups: coordinators(coordinator),"
                     "teamLeads(team_lead),workAbilityTeam  members: esihenkilo.erkki,sosiaalityo.saara,"
                     "virkailija.eeva"]
    database = Database(database_url)
    try:
        with database.transaction() as session:
            assert [u.id for u in group_members(session, "teamLeads")] == ["esihenkilo.erkki"]
            assert len(group_members(session, "workAbilityTeam")) == 3
            official = authenticate_password(session, "virkailija.eeva", "a long enough password")
            assert official is not None and (official.title, official.unit) == ("työllisyysasiantuntija",
                                                                                Unit.EMPLOYMENT_SERVICES)
    finally:
        database.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (("user", "add", "x.y", "--role", "case_manager", "--unit", "tax_office"), "unknown unit 'tax_office'"),
    (("user", "add", "x.y", "--role", "case_manager", "--team", "nowhere"), "no team 'nowhere'"),
    (("user", "add", "x.y", "--role", "wizard"), "unknown role 'wizard'"),
    (("team", "add", "two words", "--name", "T"), "a team id is one word"),
])
def test_bad_user_and_team_input_gives_a_message_and_adds_nothing(staff_cli, args, message) -> None:
    result = staff_cli(*args, stdin="a long enough password\n")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "x.y" not in staff_cli("user", "list").stdout
    assert staff_cli("team", "list").stdout == "no teams; add one with: polku team add ID --name NAME\n"


def test_a_team_id_is_added_once(staff_cli) -> None:
    assert staff_cli("team", "add", "t1", "--name", "Tiimi").returncode == 0
    again = staff_cli("team", "add", "t1", "--name", "Toinen")
    assert again.returncode == 1 and "team 't1' already exists" in again.stderr


def test_a_partner_account_is_linked_to_its_network_partner(staff_cli, database_url: str) -> None:
    from casework.network import PartnerKind, add_partner
    from casework.users import get_user
    from engine.db import Database

    database = Database(database_url)
    try:
        with database.transaction() as session:
            health = add_partner(session, "Terveysasema Kuvitelma", PartnerKind.HEALTH_CARE).id
        password = "a long enough password\n"
        unlinked = staff_cli("user", "add", "hoitaja", "--role", "partner", stdin=password)
        assert unlinked.returncode == 1 and "needs --partner PARTNER_ID" in unlinked.stderr
        unknown = staff_cli("user", "add", "hoitaja", "--role", "partner", "--partner", str(health + 1), stdin=password)
        assert unknown.returncode == 1 and f"{health}: Terveysasema Kuvitelma" in unknown.stderr
        staff = staff_cli("user", "add", "aino", "--role", "coordinator", "--partner", str(health), stdin=password)
        assert staff.returncode == 1 and "--partner is for network partners' accounts" in staff.stderr
        added = staff_cli("user", "add", "hoitaja", "--role", "partner", "--partner", str(health), stdin=password)
        assert added.returncode == 0, added.stderr
        assert staff_cli("user", "list").stdout.splitlines() == [
            "hoitaja  partner  active  password  tokens: 0  title: -  unit: -  teams: -  "
            f"partner: {health} (Terveysasema Kuvitelma)"]
        with database.transaction() as session:
            account = get_user(session, "hoitaja")
            assert (account.partner_id, account.organisation) == (health, "Terveysasema Kuvitelma")
    finally:
        database.dispose()
