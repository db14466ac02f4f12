"""An event-based gateway waits where Camunda's jobs and subscriptions are: at the catch events behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.models import MessageSubscription, Timer
from engine.simulate import simulate
from tests.diagrams import chain, flow, process
from tests.engine.camunda.compat_support import open_task_ids, refused_at, run, utc, waiting

MESSAGES = '<bpmn:message id="m_reply" name="reply"/><bpmn:message id="m_withdrawn" name="withdrawn"/>'


def timer(element_id: str, duration: str, name: str | None = None) -> str:
    label = f' name="{name}"' if name else ""
    return (f'<bpmn:intermediateCatchEvent id="{element_id}"{label}><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>')


def message(element_id: str, ref: str, name: str | None = None) -> str:
    label = f' name="{name}"' if name else ""
    return (f'<bpmn:intermediateCatchEvent id="{element_id}"{label}>'
            f'<bpmn:messageEventDefinition messageRef="{ref}"/></bpmn:intermediateCatchEvent>')


# start → gateway → (3 days | reply | withdrawn) → a user task each
GATEWAY = ('<bpmn:startEvent id="start"/><bpmn:eventBasedGateway id="gw" name="Wait for the client"/>'
           + timer("no_reply", "P3D", "Three days") + message("got_reply", "m_reply", "Reply")
           + message("got_withdrawal", "m_withdrawn")
           + '<bpmn:userTask id="remind"/><bpmn:userTask id="read"/><bpmn:userTask id="close"/>'
           + chain("start", "gw") + flow("g1", "gw", "no_reply") + flow("g2", "gw", "got_reply")
           + flow("g3", "gw", "got_withdrawal")
           + chain("no_reply", "remind") + chain("got_reply", "read") + chain("got_withdrawal", "close"))


def start_at_gateway(engine) -> str:
    return run(engine, "ebg", GATEWAY, extra=MESSAGES)


def test_the_wait_is_at_the_catch_events_not_the_gateway(engine, clock):
    case_id = start_at_gateway(engine)
    assert engine.case(case_id)["waiting"] == [
        {"kind": "timer", "id": "no_reply", "name": "Three days", "due": (clock.now + timedelta(days=3)).isoformat()},
        {"kind": "message", "id": "got_reply", "name": "Reply", "message": "reply"},
        {"kind": "message", "id": "got_withdrawal", "name": None, "message": "withdrawn"},
    ]


def test_the_projection_rows_name_the_catch_events(engine, clock):
    case_id = start_at_gateway(engine)
    with engine.db.transaction() as session:
        timers = session.execute(select(Timer.element_id, Timer.due_at).where(Timer.case_id == case_id)).all()
        subscriptions = sorted(session.execute(
            select(MessageSubscription.element_id, MessageSubscription.message_name)
            .where(MessageSubscription.case_id == case_id)).all())
    assert [(element, utc(due)) for element, due in timers] == [("no_reply", clock.now + timedelta(days=3))]
    assert subscriptions == [("got_reply", "reply"), ("got_withdrawal", "withdrawn")]
    assert len(engine.waiting_timers(case_id, "no_reply")) == 1


def test_every_message_behind_the_gateway_can_be_correlated(engine):
    # the second subscription used to share the gateway's row id with the first and was never written
    case_id = start_at_gateway(engine)
    assert engine.correlate("withdrawn", case_id=case_id) == [case_id]
    assert open_task_ids(engine, case_id) == ["close"]
    assert engine.message_waiters("reply", case_id=case_id) == []
    assert engine.waiting_timers(case_id) == []


def test_the_first_message_takes_its_path(engine):
    case_id = start_at_gateway(engine)
    engine.correlate("reply", case_id=case_id, variables={"answer": "yes"})
    assert waiting(engine, case_id) == [("userTask", "read")]
    assert engine.case(case_id)["variables"]["answer"] == "yes"


def test_the_timer_takes_its_path_when_due(engine, clock):
    case_id = start_at_gateway(engine)
    clock.advance(days=3, minutes=1)
    assert engine.fire_due_timers() == 1
    assert waiting(engine, case_id) == [("userTask", "remind")]
    assert engine.message_waiters("reply", case_id=case_id) == []


def test_simulate_names_the_catch_events():
    result = simulate({"ebg.bpmn": process("ebg", GATEWAY, MESSAGES)})
    assert [(w["kind"], w["id"]) for w in result["waiting"]] == [
        ("timer", "no_reply"), ("message", "got_reply"), ("message", "got_withdrawal")]


def test_polku_cases_names_the_catch_events(engine, database_url):
    case_id = start_at_gateway(engine)
    env = {**os.environ, "POLKU_DATABASE_URL": database_url}
    env.pop("POLKU_DEBUG", None)
    polku = str(Path(sys.executable).with_name("polku"))
    listed = subprocess.run([polku, "cases"], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "timer:no_reply, message:got_reply, message:got_withdrawal" in listed.stdout
    as_json = subprocess.run([polku, "cases", "--json"], env=env, capture_output=True, text=True, timeout=120,
                             check=True)
    (case,) = [c for c in json.loads(as_json.stdout) if c["id"] == case_id]
    assert [w["id"] for w in case["waiting"]] == ["no_reply", "got_reply", "got_withdrawal"]


# -- what may follow an event-based gateway (Camunda's own restrictions) --------------------------------------


def gateway_to(*targets: str, extra_flows: str = "") -> bytes:
    body = ('<bpmn:startEvent id="start"/><bpmn:eventBasedGateway id="gw"/>' + "".join(targets)
            + '<bpmn:endEvent id="end"/>' + chain("start", "gw") + extra_flows)
    return process("p", body, MESSAGES)


def test_only_intermediate_catch_events_may_follow_the_gateway():
    xml = gateway_to(message("m1", "m_reply"), '<bpmn:receiveTask id="recv" messageRef="m_withdrawn"/>',
                     extra_flows=flow("a", "gw", "m1") + flow("b", "gw", "recv") + chain("m1", "end")
                     + flow("c", "recv", "end"))
    problems = refused_at({"p.bpmn": xml})
    assert "recv" in problems["gw"] and "receiveTask" in problems["gw"]


def test_a_catch_event_after_the_gateway_has_no_other_way_in():
    xml = gateway_to(message("m1", "m_reply"), timer("t1", "PT1H"),
                     extra_flows=flow("a", "gw", "m1") + flow("b", "gw", "t1") + chain("t1", "m1", "end"))
    problems = refused_at({"p.bpmn": xml})
    assert "may only be reached from the gateway" in problems["m1"]


def test_two_timers_behind_one_gateway_are_refused():
    # they would share the gateway's one schedule: both fire at the first one's due time
    xml = gateway_to(timer("t1", "PT1H"), timer("t2", "P1D"),
                     extra_flows=flow("a", "gw", "t1") + flow("b", "gw", "t2") + chain("t1", "end")
                     + flow("c", "t2", "end"))
    problems = refused_at({"p.bpmn": xml})
    assert "2 timer events" in problems["gw"]

