"""Small Camunda Modeler-style diagrams written for the tests (the corpus is never copied)."""

from __future__ import annotations

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')


def definitions(body: str, extra: str = "") -> bytes:
    """A BPMN definitions document around process XML (and messages/errors in `extra`)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="Definitions_1" '
            f'targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.0.0">'
            f'{extra}{body}</bpmn:definitions>').encode()


def process(process_id: str, body: str, extra: str = "", executable: bool = True) -> bytes:
    flag = "true" if executable else "false"
    return definitions(f'<bpmn:process id="{process_id}" isExecutable="{flag}">{body}</bpmn:process>', extra)


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
            f'</bpmn:sequenceFlow>')


def chain(*ids: str) -> str:
    """Sequence flows connecting the ids in order."""
    return "".join(flow(f"f_{a}_{b}", a, b) for a, b in zip(ids, ids[1:], strict=False))
