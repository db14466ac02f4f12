"""Reading `camunda:` extension attributes and elements, in both namespaces Modeler has used."""

from __future__ import annotations

from lxml import etree

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI_NS = "http://activiti.org/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
EXTENSION_NAMESPACES = (CAMUNDA_NS, ACTIVITI_NS)


def camunda_attr(node: etree._Element, name: str) -> str | None:
    """The value of `camunda:name` (or the legacy `activiti:name`) on a node, if present."""
    for ns in EXTENSION_NAMESPACES:
        value = node.get(f"{{{ns}}}{name}")
        if value is not None:
            return value
    return None


def camunda_children(node: etree._Element, path: str) -> list[etree._Element]:
    """Elements under the node's extensionElements, e.g. `inputOutput/inputParameter`.

    The path is written without prefixes; each step matches the camunda or activiti namespace.
    """
    found: list[etree._Element] = []
    for ext in node.findall(f"{{{BPMN_NS}}}extensionElements"):
        current = [ext]
        for step in path.split("/"):
            nxt: list[etree._Element] = []
            for element in current:
                for ns in EXTENSION_NAMESPACES:
                    nxt.extend(element.findall(f"{{{ns}}}{step}"))
            current = nxt
        found.extend(current)
    return found

