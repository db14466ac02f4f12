"""casework.event_log: the case history as XES and CSV for process mining, pseudonymised, with no personal data.

Known cases through a small process with a called process; the XES is checked element by element (lxml), the
CSV row by row, and the demo's cases through the real diagrams are read back and mined with pm4py.
Run with POLKU_TEST_POSTGRES as well.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from casework.case_manager import AssignmentReason, assign
from casework.client import register_client
from casework.client_case import open_case
from casework.event_log import (
    CSV_COLUMNS,
    EventLogFilter,
    ProcessChoice,
    csv_stream,
    exported_cases,
    pseudonym,
    pseudonym_key,
    xes_stream,
)
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.stalls import Scope
from casework.teams import add_team
from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, flow, process

X = "{http://www.xes-standard.org/}"
SUPPORT = ('<bpmn:startEvent id="start" name="Referral received"/>'
           '<bpmn:userTask id="intake" name="Intake" camunda:candidateGroups="coordinators"/>'
           '<bpmn:exclusiveGateway id="route" name="Needs a plan?"/>'
           '<bpmn:userTask id="plan" name="Plan"/>'
           '<bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="notify"/>'
           '<bpmn:callActivity id="coordinate" name="Coordinate services" calledElement="coordination"/>'
           '<bpmn:endEvent id="closed" name="Closed"/>'
           + chain("start", "intake", "route") + flow("yes", "route", "plan", "${needsPlan}")
           + flow("no", "route", "closed", "${not needsPlan}") + chain("plan", "notify", "coordinate", "closed"))
COORDINATION = ('<bpmn:startEvent id="c_start" name="Service chosen"/>'
                '<bpmn:userTask id="arrange" name="Arrange the service"/>'
                '<bpmn:endEvent id="c_end" name="Service arranged"/>' + chain("c_start", "arrange", "c_end"))
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET_NOTE = "Asiakas kertoi velkaongelmasta"  # a free text in a variable: never in the log
NAMES = ["Testi Asiakas Yksi", "Testi Asiakas Kaksi", "Testi Asiakas Kolme"]
STAFF_IDS = ["aino", "bertta", "cecilia", "tiina", "notifier-7"]
EVERY_CASE = EventLogFilter()
CLIENT_ROLES = ("case_manager", "coordinator", "worker", "system")


def deploy(engine: Engine) -> None:
    engine.deploy({"support.bpmn": process("support", SUPPORT),
                   "coordination.bpmn": process("coordination", COORDINATION)})


def complete(engine: Engine, clock: TestClock, case_id: str, element: str, actor: str, **data: Any) -> None:
    clock.advance(hours=1)
    task = next(t for t in engine.open_tasks(case_id) if t.element_id == element)
    engine.complete_task(task.id, data, actor=actor)


def begin(engine: Engine, clock: TestClock, keys: IdentityCodeKeys, n: int, at: datetime, team: str) -> str:
    clock.now = at
    case_id = engine.start("support", f"TKT-{n}", {"note": SECRET_NOTE})
    with engine.db.transaction() as s:
        client = register_client(s, keys, name=NAMES[n], identity_code=fictitious_code(date(1980, 1, 1), 900 + n),
                                 at=clock(), municipality="Espoo" if team == "north" else "Vantaa")
        open_case(s, case_id, client.id, clock()).team_id = team
    return case_id


@pytest.fixture
def cases(engine: Engine, clock: TestClock, keys: IdentityCodeKeys, staff: None) -> dict[str, str]:
    """done: the whole path by a coordinator, the case manager and a worker; waiting: at the plan; early: closed
    without a plan 60 days before the others."""
    with engine.db.transaction() as s:
        add_team(s, "north", "North", clock())
        add_team(s, "south", "South", clock())
    return three_cases(engine, clock, keys, "aino", "bertta", {"sent": "tekstiviesti 040 1234567"})


def three_cases(engine: Engine, clock: TestClock, keys: IdentityCodeKeys, coordinator: str, early_coordinator: str,
                notified: dict[str, Any]) -> dict[str, str]:
    """done (north): the whole path by `coordinator`, the case manager cecilia and the worker notifier-7 (whose
    job answers `notified`); waiting (south): at the plan; early (north): closed without a plan by
    `early_coordinator` 60 days before. Now is two days after T0."""
    deploy(engine)
    early = begin(engine, clock, keys, 2, T0 - timedelta(days=60), "north")
    complete(engine, clock, early, "intake", early_coordinator, needsPlan=False)
    done = begin(engine, clock, keys, 0, T0, "north")
    complete(engine, clock, done, "intake", coordinator, needsPlan=True)
    with engine.db.transaction() as s:
        assign(s, done, "cecilia", AssignmentReason.INITIAL, clock(), by=coordinator)
    complete(engine, clock, done, "plan", "cecilia")
    clock.advance(hours=1)
    job = engine.fetch_and_lock("notifier-7", [TopicRequest("notify")])[0]
    engine.complete_job(job.id, "notifier-7", notified)
    complete(engine, clock, done, "arrange", "cecilia")
    waiting = begin(engine, clock, keys, 1, T0 + timedelta(days=1), "south")
    complete(engine, clock, waiting, "intake", coordinator, needsPlan=True)
    clock.now = T0 + timedelta(days=2)
    return {"done": done, "waiting": waiting, "early": early}


def xes(engine: Engine, key: bytes, chosen: EventLogFilter = EVERY_CASE, chunk: int = 500) -> bytes:
    with engine.db.read() as s:
        ids = exported_cases(s, chosen)
    return b"".join(xes_stream(engine.db.read, key, ids, chosen, T0 + timedelta(days=2), chunk=chunk))


def csv_rows(engine: Engine, key: bytes, chosen: EventLogFilter = EVERY_CASE) -> list[list[str]]:
    with engine.db.read() as s:
        ids = exported_cases(s, chosen)
    data = b"".join(csv_stream(engine.db.read, key, ids, chosen))
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def values(element: Any) -> dict[str, str]:
    return {child.get("key"): child.get("value") for child in element if child.get("key")}


def traces(document: bytes) -> dict[str, list[dict[str, str]]]:
    root = etree.fromstring(document)
    return {values(t)["concept:name"]: [values(e) for e in t.iter(f"{X}event")] for t in root.iter(f"{X}trace")}


def forbidden(engine: Engine, case_ids: dict[str, str]) -> list[str]:
    """What must never appear: the clients' names and codes, case numbers, staff ids, free texts, case ids."""
    codes = [fictitious_code(date(1980, 1, 1), 900 + n) for n in range(3)]
    return [*NAMES, *codes, *(c.replace("-", "") for c in codes), "TKT-", SECRET_NOTE, "velkaongelma",
            "040 1234567", *STAFF_IDS, "Aino", "Cecilia", *case_ids.values()]


def test_the_xes_document_has_the_standards_structure(engine: Engine, cases: dict[str, str]) -> None:
    document = xes(engine, pseudonym_key("a secret of sixteen+ chars"))
    root = etree.fromstring(document)
    assert root.tag == f"{X}log" and root.get("xes.version") == "1849-2016"
    assert root.get("xes.features") == "nested-attributes"
    tags = [etree.QName(c).localname for c in root]
    # extensions, globals, classifiers, the log's attributes, then the traces (the schema's order)
    assert tags[:4] == ["extension"] * 4 and tags[4:6] == ["global", "global"]
    first_trace = tags.index("trace")
    assert set(tags[first_trace:]) == {"trace"} and "classifier" in tags[6:first_trace]
    assert {(e.get("name"), e.get("prefix"), e.get("uri")) for e in root.iter(f"{X}extension")} == {
        ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
        ("Time", "time", "http://www.xes-standard.org/time.xesext"),
        ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
        ("Organizational", "org", "http://www.xes-standard.org/org.xesext")}
    scopes = {g.get("scope"): values(g) for g in root.iter(f"{X}global")}
    assert set(scopes["trace"]) == {"concept:name"}
    assert set(scopes["event"]) == {"concept:name", "time:timestamp", "lifecycle:transition", "org:role",
                                    "elementId", "elementType", "process"}
    classifiers = {c.get("name"): c.get("keys") for c in root.iter(f"{X}classifier")}
    assert classifiers["Activity"] == "concept:name"
    # every event has every global event attribute, each of its declared type; the timestamps carry a zone
    for event in root.iter(f"{X}event"):
        kinds = {c.get("key"): etree.QName(c).localname for c in event}
        assert kinds == {"concept:name": "string", "time:timestamp": "date", "lifecycle:transition": "string",
                         "org:role": "string", "elementId": "string", "elementType": "string", "process": "string"}
        stamp = values(event)["time:timestamp"]
        assert datetime.fromisoformat(stamp).tzinfo is not None and stamp[-6] in "+-"
        assert values(event)["lifecycle:transition"] in ("start", "complete", "ate_abort")
    for trace in root.iter(f"{X}trace"):
        assert etree.QName(trace[0]).localname == "string" and trace[0].get("key") == "concept:name"


# The structure of IEEE 1849-2016's XML schema, written out here (the standard's schema file has no target
# namespace and types xes.version as a decimal, while its documents use the XES namespace and "1849-2016"):
# a log holds extensions, globals, classifiers, its own attributes, then traces; a trace its attributes, then
# events; every attribute a key (an XML Name) and a value of its type (a date an xs:dateTime).
XES_SCHEMA = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="http://www.xes-standard.org/"
  targetNamespace="http://www.xes-standard.org/" elementFormDefault="qualified">
  <xs:element name="log" type="LogType"/>
  <xs:group name="Attributes"><xs:sequence><xs:choice minOccurs="0" maxOccurs="unbounded">
    <xs:element name="string" type="StringType"/><xs:element name="date" type="DateType"/>
    <xs:element name="int" type="IntType"/><xs:element name="float" type="FloatType"/>
    <xs:element name="boolean" type="BooleanType"/><xs:element name="id" type="StringType"/>
    <xs:element name="list" type="ListType"/>
  </xs:choice></xs:sequence></xs:group>
  <xs:complexType name="Attributable"><xs:group ref="Attributes"/></xs:complexType>
  <xs:complexType name="Attribute"><xs:complexContent><xs:extension base="Attributable">
    <xs:attribute name="key" type="xs:Name" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="StringType"><xs:complexContent><xs:extension base="Attribute">
    <xs:attribute name="value" type="xs:string" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="DateType"><xs:complexContent><xs:extension base="Attribute">
    <xs:attribute name="value" type="xs:dateTime" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="IntType"><xs:complexContent><xs:extension base="Attribute">
    <xs:attribute name="value" type="xs:long" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="FloatType"><xs:complexContent><xs:extension base="Attribute">
    <xs:attribute name="value" type="xs:double" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="BooleanType"><xs:complexContent><xs:extension base="Attribute">
    <xs:attribute name="value" type="xs:boolean" use="required"/></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="ListType"><xs:complexContent><xs:extension base="Attribute"/></xs:complexContent>
  </xs:complexType>
  <xs:complexType name="ExtensionType">
    <xs:attribute name="name" type="xs:NCName" use="required"/>
    <xs:attribute name="prefix" type="xs:NCName" use="required"/>
    <xs:attribute name="uri" type="xs:anyURI" use="required"/></xs:complexType>
  <xs:complexType name="GlobalsType"><xs:group ref="Attributes"/>
    <xs:attribute name="scope" use="required"><xs:simpleType><xs:restriction base="xs:NCName">
      <xs:enumeration value="trace"/><xs:enumeration value="event"/></xs:restriction></xs:simpleType>
    </xs:attribute></xs:complexType>
  <xs:complexType name="ClassifierType">
    <xs:attribute name="name" type="xs:NCName" use="required"/>
    <xs:attribute name="scope" type="xs:NCName"/>
    <xs:attribute name="keys" type="xs:token" use="required"/></xs:complexType>
  <xs:complexType name="LogType"><xs:sequence>
    <xs:element name="extension" type="ExtensionType" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="global" type="GlobalsType" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="classifier" type="ClassifierType" minOccurs="0" maxOccurs="unbounded"/>
    <xs:group ref="Attributes"/>
    <xs:element name="trace" type="TraceType" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence>
    <xs:attribute name="xes.version" type="xs:string" use="required" fixed="1849-2016"/>
    <xs:attribute name="xes.features" type="xs:token"/></xs:complexType>
  <xs:complexType name="TraceType"><xs:sequence><xs:group ref="Attributes"/>
    <xs:element name="event" type="Attributable" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
  </xs:complexType>
</xs:schema>"""


def test_the_xes_document_validates_against_the_standards_schema(engine: Engine, cases: dict[str, str]) -> None:
    schema = etree.XMLSchema(etree.fromstring(XES_SCHEMA.encode()))
    document = etree.fromstring(xes(engine, pseudonym_key("a secret of sixteen+ chars")))
    assert schema.validate(document), schema.error_log
    # and the schema does catch what would break a reader: a timestamp that is no xs:dateTime
    broken = etree.fromstring(xes(engine, pseudonym_key("x" * 20)).replace(b'value="2026-03-02T', b'value="2026-3-2T'))
    assert not schema.validate(broken)


def test_each_case_is_one_trace_with_its_steps_in_order(engine: Engine, cases: dict[str, str]) -> None:
    key = pseudonym_key("a secret of sixteen+ chars")
    found = traces(xes(engine, key))
    assert set(found) == {pseudonym(key, c) for c in cases.values()}
    done = found[pseudonym(key, cases["done"])]
    steps = [(e["concept:name"], e["lifecycle:transition"], e["org:role"], e["process"]) for e in done]
    # the gateway is no activity; the called process's steps are in the case's trace, marked with their process
    assert steps == [
        ("Referral received", "start", "system", "support"), ("Referral received", "complete", "system", "support"),
        ("Intake", "start", "coordinator", "support"), ("Intake", "complete", "coordinator", "support"),
        ("Plan", "start", "case_manager", "support"), ("Plan", "complete", "case_manager", "support"),
        ("Notify", "start", "worker", "support"), ("Notify", "complete", "worker", "support"),
        ("Coordinate services", "start", "system", "support"),
        ("Service chosen", "start", "system", "coordination"),
        ("Service chosen", "complete", "system", "coordination"),
        ("Arrange the service", "start", "case_manager", "coordination"),
        ("Arrange the service", "complete", "case_manager", "coordination"),
        ("Service arranged", "start", "system", "coordination"),
        ("Service arranged", "complete", "system", "coordination"),
        ("Coordinate services", "complete", "system", "support"),
        ("Closed", "start", "system", "support"), ("Closed", "complete", "system", "support")]
    assert [e["elementId"] for e in done[:4:2]] == ["start", "intake"]
    assert done[2]["elementType"] == "UserTask"
    stamps = [datetime.fromisoformat(e["time:timestamp"]) for e in done]
    assert stamps == sorted(stamps)
    assert stamps[2:4] == [T0, T0 + timedelta(hours=1)]  # intake: opened with the case, completed an hour later
    assert stamps[-1] == T0 + timedelta(hours=4)
    # the waiting case: its plan is open (a start without an end); the early case never had a plan
    waiting = found[pseudonym(key, cases["waiting"])]
    assert [(e["concept:name"], e["lifecycle:transition"]) for e in waiting][-1] == ("Plan", "start")
    early = found[pseudonym(key, cases["early"])]
    assert "Plan" not in {e["concept:name"] for e in early} and early[-1]["concept:name"] == "Closed"
    # intake done by a coordinator who is no case manager of the early case
    assert [e["org:role"] for e in early if e["concept:name"] == "Intake"] == ["coordinator", "coordinator"]


def test_a_step_the_engine_cancelled_ends_with_ate_abort(engine: Engine, clock: TestClock,
                                                          cases: dict[str, str]) -> None:
    clock.advance(hours=3)
    engine.cancel(cases["waiting"], actor="tiina")
    key = pseudonym_key("a secret of sixteen+ chars")
    waiting = traces(xes(engine, key))[pseudonym(key, cases["waiting"])]
    plan = [(e["lifecycle:transition"], e["org:role"], e["time:timestamp"]) for e in waiting
            if e["concept:name"] == "Plan"]
    assert [p[:2] for p in plan] == [("start", "system"), ("ate_abort", "system")]
    assert datetime.fromisoformat(plan[1][2]) == clock()


def test_pseudonyms_are_stable_keyed_and_not_the_ids(engine: Engine, cases: dict[str, str]) -> None:
    key = pseudonym_key("a secret of sixteen+ chars")
    first, second = xes(engine, key), xes(engine, key, chunk=1)  # chunking changes nothing
    assert first == second
    other = traces(xes(engine, pseudonym_key("another secret, also long")))
    assert set(other).isdisjoint(traces(first))
    for case_id in cases.values():
        name = pseudonym(key, case_id)
        assert len(name) == 32 and name != case_id and case_id not in first.decode()
    assert pseudonym_key("a secret of sixteen+ chars") != b"a secret of sixteen+ chars"


def test_no_personal_data_anywhere(engine: Engine, cases: dict[str, str]) -> None:
    key = pseudonym_key("a secret of sixteen+ chars")
    text = xes(engine, key).decode() + "\n".join(";".join(r) for r in csv_rows(engine, key))
    for value in forbidden(engine, cases):
        assert value.lower() not in text.lower(), value


def test_the_csv_has_one_row_per_step(engine: Engine, cases: dict[str, str]) -> None:
    key = pseudonym_key("a secret of sixteen+ chars")
    rows = csv_rows(engine, key)
    assert rows[0] == CSV_COLUMNS == ["case", "activity", "start", "end", "resource_role", "element_id", "process"]
    done = [r for r in rows[1:] if r[0] == pseudonym(key, cases["done"])]
    assert [(r[1], r[4], r[6]) for r in done] == [
        ("Referral received", "system", "support"), ("Intake", "coordinator", "support"),
        ("Plan", "case_manager", "support"), ("Notify", "worker", "support"),
        ("Coordinate services", "system", "support"), ("Service chosen", "system", "coordination"),
        ("Arrange the service", "case_manager", "coordination"), ("Service arranged", "system", "coordination"),
        ("Closed", "system", "support")]
    intake = done[1]
    assert datetime.fromisoformat(intake[2]) == T0 and datetime.fromisoformat(intake[3]) == T0 + timedelta(hours=1)
    assert intake[5] == "intake"
    waiting = [r for r in rows[1:] if r[0] == pseudonym(key, cases["waiting"])]
    assert waiting[-1][1] == "Plan" and waiting[-1][3] == ""  # still open: no end
    assert len({r[0] for r in rows[1:]}) == 3


def test_the_filters_pick_cases_and_processes(engine: Engine, cases: dict[str, str]) -> None:
    key = pseudonym_key("a secret of sixteen+ chars")
    names = {k: pseudonym(key, v) for k, v in cases.items()}

    def picked(chosen: EventLogFilter) -> set[str]:
        return {k for k, v in names.items() if v in traces(xes(engine, key, chosen))}

    assert picked(EventLogFilter(Scope(frozenset({"north"})))) == {"done", "early"}
    assert picked(EventLogFilter(Scope(None, "vantaa"))) == {"waiting"}
    # cases active in the period: the early case ended 60 days before
    assert picked(EventLogFilter(start=T0 - timedelta(days=10), end=T0 + timedelta(days=5))) == {"done", "waiting"}
    assert picked(EventLogFilter(start=T0 - timedelta(days=70), end=T0 - timedelta(days=50))) == {"early"}
    assert picked(EventLogFilter(start=T0 + timedelta(hours=12), end=T0 + timedelta(days=5))) == {"waiting"}
    # the process: only the called process's steps (cases without any are left out), or only the main process's
    called = traces(xes(engine, key, EventLogFilter(process=ProcessChoice.CALLED)))
    assert set(called) == {names["done"]}
    assert {e["concept:name"] for e in called[names["done"]]} == {"Service chosen", "Arrange the service",
                                                                   "Service arranged"}
    main = traces(xes(engine, key, EventLogFilter(process=ProcessChoice.MAIN)))
    assert {e["process"] for t in main.values() for e in t} == {"support"}
    assert "Coordinate services" in {e["concept:name"] for e in main[names["done"]]}


@pytest.mark.filterwarnings("ignore:Install the optional requirement")
def test_pm4py_reads_the_log_and_discovers_the_process(engine: Engine, clock: TestClock, tmp_path: Path) -> None:
    """The demo's cases through the real diagrams: pm4py reads the XES and mines a model whose activities are
    the process's steps."""
    pm4py = pytest.importorskip("pm4py")
    from casework.users import Role
    from polku.demo import load_demo
    from polku.resources import collect_dir
    from polku.settings import ROOT
    from workers.services import Services

    engine.deploy(collect_dir(ROOT / "bpmn"), name="bpmn/")
    load_demo(engine, Services(engine.db, clock, IdentityCodeKeys(secrets.token_urlsafe(32)), None, engine))
    key = pseudonym_key(secrets.token_urlsafe(32))
    path = tmp_path / "events.xes"
    path.write_bytes(xes(engine, key))
    log = pm4py.read_xes(str(path))
    with engine.db.read() as s:
        case_count = len(exported_cases(s, EventLogFilter()))
    assert log["case:concept:name"].nunique() == case_count >= 28
    completed = log[log["lifecycle:transition"] == "complete"]
    net, _initial, _final = pm4py.discover_petri_net_inductive(completed)
    discovered = {t.label for t in net.transitions if t.label is not None}
    steps = diagram_steps(ROOT / "bpmn" / "work-ability-support.bpmn") | diagram_steps(
        ROOT / "bpmn" / "service-coordination.bpmn")
    assert discovered == set(completed["concept:name"]) and discovered <= steps
    names = diagram_names(ROOT / "bpmn" / "work-ability-support.bpmn")
    for element in ("confirm_decision", "make_plan", "follow_up_review"):  # steps the demo's cases passed
        assert names[element] in discovered, element
    dfg, _starts, _ends = pm4py.discover_dfg(completed)
    assert dfg and all(a in steps and b in steps for a, b in dfg)
    roles = set(log["org:role"])
    assert {"system", "worker", "coordinator", "case_manager"} <= roles <= {*CLIENT_ROLES, *(r.value for r in Role),
                                                                          "staff"}
    # the demo staff's ids and the clients' names never appear
    text = path.read_text(encoding="utf-8")
    for staff_id in ("koordinaattori.anna", "sosiaalityo.pekka", "tyollisyys.eeva", "esihenkilo.maria"):
        assert staff_id not in text


def diagram_names(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    out = {}
    for process_element in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}process"):
        for node in process_element.iter():
            if isinstance(node.tag, str) and node.get("id") and not etree.QName(node).localname.endswith("Gateway"):
                out[str(node.get("id"))] = node.get("name") or str(node.get("id"))
    return out


def diagram_steps(path: Path) -> set[str]:
    return set(diagram_names(path).values())
