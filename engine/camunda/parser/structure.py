"""Checks of a BPMN document's references before SpiffWorkflow sees it.

SpiffWorkflow's parser follows ids blindly: a sequence flow without a target, a boundary event
attached to nothing or a message reference to nowhere end in a misleading message, a raw
TypeError, or a diagram that deploys and then misbehaves. Camunda refuses all of them at deploy
time; so do we, naming the element and the reason.
"""

from __future__ import annotations

from collections import Counter

from lxml import etree

from engine.camunda.parser.extensions import BPMN_NS
from engine.camunda.parser.validation import Findings

ACTIVITIES = {"task", "userTask", "serviceTask", "sendTask", "receiveTask", "manualTask", "scriptTask",
              "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
SCOPES = {"process", "subProcess", "transaction", "adHocSubProcess"}
CATCHING = {"startEvent", "intermediateCatchEvent", "boundaryEvent"}
# definition tag → (reference attribute, root element it must name, required on catching events, on throwing)
REFERENCES = {
    "messageEventDefinition": ("messageRef", "message", True, False),
    "signalEventDefinition": ("signalRef", "signal", True, True),
    "errorEventDefinition": ("errorRef", "error", False, False),
    "escalationEventDefinition": ("escalationRef", "escalation", False, True),
}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bpmn_children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).namespace == BPMN_NS]


def check_document(findings: Findings, root: etree._Element) -> None:
    """BPMN element ids must be unique in the file (extension elements such as form fields have their own)."""
    counts = Counter(el.get("id") for el in root.iter(f"{{{BPMN_NS}}}*") if el.get("id"))
    for element_id, n in sorted(counts.items()):
        if n > 1:
            findings.problem_at(element_id, f"id '{element_id}' is used by {n} elements")


def check_structure(findings: Findings, process: etree._Element, root: etree._Element) -> None:
    """References inside one executable process and to the file's messages, signals and errors."""
    if not process.get("id"):
        findings.problem(process, "a process has no id")
    for el in process.iter():
        if _local(el) in SCOPES:
            _check_scope(findings, el)
    declared = {kind: {e.get("id") for e in root.iter(f"{{{BPMN_NS}}}{kind}")}
                for _attr, kind, _c, _t in REFERENCES.values()}
    messages = {m.get("id"): m for m in root.iter(f"{{{BPMN_NS}}}message")}
    for el in process.iter():
        tag = _local(el)
        if tag in ("boundaryEvent", "intermediateCatchEvent") and not any(
                _local(c).endswith("EventDefinition") for c in _bpmn_children(el)):
            findings.problem(el, f"{tag} has no event definition: it would wait for nothing")
        if tag in REFERENCES:
            _check_reference(findings, el, declared)
            message = messages.get(el.get("messageRef")) if tag == "messageEventDefinition" else None
            if message is not None and not (message.get("name") or "").strip():
                findings.problem(el, f"message '{el.get('messageRef')}' has no name to correlate by")
        elif tag == "conditionalEventDefinition":
            condition = el.find(f"{{{BPMN_NS}}}condition")
            if condition is None or not (condition.text or "").strip():
                findings.problem(el, "conditional event has no condition")
        elif tag == "timerEventDefinition" and not _bpmn_children(el):
            findings.problem(el, "timer event has no timeDate, timeDuration or timeCycle")
        elif tag == "scriptTask":
            script = el.find(f"{{{BPMN_NS}}}script")
            if (script is None or not (script.text or "").strip()) and not _has_resource(el):
                findings.problem(el, "script task has no script")


def _has_resource(el: etree._Element) -> bool:
    return any(k.endswith("}resource") for k in el.attrib)


def _check_reference(findings: Findings, definition: etree._Element, declared: dict[str, set[str | None]]) -> None:
    attr, kind, needed_to_catch, needed_to_throw = REFERENCES[_local(definition)]
    event = definition.getparent()
    ref = definition.get(attr)
    if ref is None:
        catching = event is not None and _local(event) in CATCHING
        if (needed_to_catch and catching) or (needed_to_throw and not catching):
            findings.problem(definition, f"{_local(definition)} has no {attr}")
    elif ref not in declared[kind]:
        findings.problem(definition, f"{attr} '{ref}' names no {kind} of this file")


def _check_scope(findings: Findings, scope: etree._Element) -> None:
    children = [c for c in scope if isinstance(c.tag, str)]
    nodes = {c.get("id"): c for c in children if _local(c) in FLOW_NODES and c.get("id")}
    activities = {i for i, c in nodes.items() if _local(c) in ACTIVITIES}
    outgoing: dict[str, set[str]] = {}
    for child in children:
        tag = _local(child)
        if tag in FLOW_NODES | {"sequenceFlow"} and not child.get("id"):
            findings.problem(scope, f"a {tag} in this scope has no id")
        if tag == "sequenceFlow":
            for attr in ("sourceRef", "targetRef"):
                ref = child.get(attr)
                if not ref:
                    findings.problem(child, f"sequence flow has no {attr}")
                elif ref not in nodes:
                    findings.problem(child, f"sequence flow {attr} '{ref}' is not an element of the same (sub)process")
            outgoing.setdefault(child.get("sourceRef") or "", set()).add(child.get("id") or "")
        elif tag == "boundaryEvent":
            attached = child.get("attachedToRef")
            if not attached:
                findings.problem(child, "boundary event has no attachedToRef")
            elif attached not in activities:
                findings.problem(child, f"boundary event is attached to '{attached}', which is not an activity "
                                 "of the same (sub)process")
    for node_id, node in nodes.items():
        default = node.get("default")
        if default and default not in outgoing.get(node_id, set()):
            findings.problem(node, f"default flow '{default}' is not an outgoing sequence flow of this element")
    _check_links(findings, scope, children)
    _check_event_gateways(findings, children, nodes)


def _check_event_gateways(findings: Findings, children: list[etree._Element], nodes: dict[str, etree._Element]
                          ) -> None:
    """What follows an event-based gateway, as Camunda requires: catch events reached from it alone.

    SpiffWorkflow moves the catch events' definitions onto the gateway: another way into one of them
    would pass it without waiting, and anything but a catch event fails deep in the parser. Two timers
    would share one schedule in the gateway's state, so one timer per gateway.
    """
    flows = [c for c in children if _local(c) == "sequenceFlow"]
    incoming: Counter[str | None] = Counter(f.get("targetRef") for f in flows)
    for gateway_id, gateway in nodes.items():
        if _local(gateway) != "eventBasedGateway":
            continue
        timers = 0
        for target_id in [f.get("targetRef") for f in flows if f.get("sourceRef") == gateway_id]:
            target = nodes.get(target_id or "")
            if target is None:
                continue  # reported with the sequence flow
            if _local(target) != "intermediateCatchEvent":
                findings.problem(gateway, f"event-based gateway leads to '{target_id}', a {_local(target)}; "
                                 "only intermediate catch events may follow it")
                continue
            if incoming[target_id] > 1:
                findings.problem(target, "catch event after an event-based gateway has another incoming sequence "
                                 "flow; it may only be reached from the gateway")
            if target.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None:
                timers += 1
        if timers > 1:
            findings.problem(gateway, f"event-based gateway is followed by {timers} timer events; Polku supports "
                             "one timer per event-based gateway")


def _check_links(findings: Findings, scope: etree._Element, children: list[etree._Element]) -> None:
    throws: list[tuple[etree._Element, str | None]] = []
    catches: set[str | None] = set()
    for child in children:
        link = child.find(f"{{{BPMN_NS}}}linkEventDefinition")
        if link is None:
            continue
        if _local(child) == "intermediateThrowEvent":
            throws.append((child, link.get("name")))
        elif _local(child) == "intermediateCatchEvent":
            if not link.get("name"):
                findings.problem(child, "link catch event has no name")
            catches.add(link.get("name"))
    for event, name in throws:
        if not name:
            findings.problem(event, "link throw event has no name")
        elif name not in catches:
            findings.problem(event, f"link '{name}' has no catching link event in the same (sub)process")


def _event_triggered_starts(scope: etree._Element) -> list[etree._Element]:
    """Message and signal start events of the event subprocesses directly in a scope."""
    starts = []
    for sub in scope:
        if _local(sub) == "subProcess" and sub.get("triggeredByEvent") == "true":
            for start in sub.findall(f"{{{BPMN_NS}}}startEvent"):
                if any(_local(c) in ("messageEventDefinition", "signalEventDefinition") for c in _bpmn_children(start)):
                    starts.append(start)
    return starts


def check_nested_event_subprocesses(findings: Findings, process: etree._Element, called: bool) -> None:
    """SpiffWorkflow delivers messages and signals only to the event subprocesses of the started process."""
    reason = ("an event subprocess started by a message or signal is only supported at the top level of a "
              "process that is started, not {where}; model it as a boundary event or at the process level")
    for scope in process.iter(f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction"):
        for start in _event_triggered_starts(scope):
            findings.problem(start, reason.format(where="inside a subprocess"))
    if called:
        for start in _event_triggered_starts(process):
            findings.problem(start, reason.format(where="in a process run by a call activity"))

