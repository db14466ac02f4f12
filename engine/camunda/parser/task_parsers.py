"""Task parsers: read Camunda attributes into our specs (see engine/camunda/specs)."""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.task_parsers import (
    CallActivityParser as _CallActivityParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import (
    ScriptTaskParser as _ScriptTaskParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import (
    SubprocessParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import (
    SubWorkflowParser as _SubWorkflowParser,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser

from engine.camunda.parser.extensions import BPMN_NS, camunda_attr, camunda_children
from engine.camunda.specs import multiinstance, tasks
from engine.camunda.specs.io_mapping import Parameter, Value
from engine.forms import parse_form

ASSIGNMENT_ATTRIBUTES = ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority")


def parse_value(node: etree._Element) -> Value:
    """A parameter's value: text, a camunda:list, a camunda:map or a camunda:script."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local == "list":
            return ("list", [parse_value(item) for item in child if isinstance(item.tag, str)])
        if local == "map":
            return ("map", [(entry.get("key"), parse_value(entry)) for entry in child if isinstance(entry.tag, str)])
        if local == "script":
            return ("script", child.text or "")
    return ("text", node.text or "")


def parse_parameters(node: etree._Element, kind: str) -> tuple[Parameter, ...]:
    return tuple(Parameter(p.get("name"), parse_value(p)) for p in camunda_children(node, f"inputOutput/{kind}"))


def implementation(node: etree._Element) -> tuple[str, str] | None:
    """(kind, topic) of a Camunda implementation on a node, or None when it has none."""
    kind = camunda_attr(node, "type")
    if kind == "external":
        return ("external", camunda_attr(node, "topic") or "")
    for attr in ("class", "expression", "delegateExpression"):
        value = camunda_attr(node, attr)
        if value:
            return (attr, value)
    for connector in camunda_children(node, "connector/connectorId"):
        return ("connector", (connector.text or "").strip())
    return None


class CamundaParserMixin:
    """Attaches camunda:inputOutput and multi-instance details to every task spec we create."""

    node: etree._Element
    spec: Any  # set by SpiffWorkflow's TaskParser, like `task` once the spec is created
    task: Any

    def create_task(self) -> Any:
        return self.with_io(super().create_task())  # type: ignore[misc]

    def with_io(self, task: Any) -> Any:
        """Attach the node's camunda:inputOutput; every create_task override must return through this."""
        task.input_parameters = parse_parameters(self.node, "inputParameter")
        task.output_parameters = parse_parameters(self.node, "outputParameter")
        return task

    def _add_multiinstance_task(self, loop_characteristics: etree._Element) -> None:
        sequential = loop_characteristics.get("isSequential") == "true"
        collection = camunda_attr(loop_characteristics, "collection")
        element_variable = camunda_attr(loop_characteristics, "elementVariable")
        cardinality_nodes = loop_characteristics.findall(f"{{{BPMN_NS}}}loopCardinality")
        cardinality = cardinality_nodes[0].text if cardinality_nodes else None
        condition_nodes = loop_characteristics.findall(f"{{{BPMN_NS}}}completionCondition")
        condition = condition_nodes[0].text if condition_nodes else None
        if cardinality is None and collection is None:
            self.raise_validation_exception(  # type: ignore[attr-defined]
                "a multi-instance activity needs camunda:collection or loopCardinality")
        original = self.spec.task_specs.pop(self.task.name)
        cls = multiinstance.SequentialMultiInstanceTask if sequential else multiinstance.ParallelMultiInstanceTask
        self.task = cls(
            self.spec, original.name, "", collection=collection, element_variable=element_variable,
            cardinality=cardinality, condition=condition,
            description="Sequential MultiInstance" if sequential else "Parallel MultiInstance",
        )
        self._copy_task_attrs(original, loop_characteristics)  # type: ignore[attr-defined]


class PlainTaskParser(CamundaParserMixin, TaskParser):
    pass


class UserTaskParser(CamundaParserMixin, TaskParser):
    def create_task(self) -> Any:
        assignment = {}
        for attr in ASSIGNMENT_ATTRIBUTES:
            value = camunda_attr(self.node, attr)
            if value:
                assignment[attr] = value
        form = parse_form(self.node, self.filename)
        self.spec_class = tasks.UserTask
        return self.with_io(tasks.UserTask(self.spec, self.bpmn_id, assignment=assignment, form=form.to_json(),
                                           **self.bpmn_attributes))


class ExternalTaskParser(CamundaParserMixin, TaskParser):
    """serviceTask, sendTask and businessRuleTask with a Camunda implementation."""

    def create_task(self) -> Any:
        kind, topic = implementation(self.node) or ("external", "")
        return self.with_io(tasks.ExternalTask(self.spec, self.bpmn_id, topic=topic, implementation=kind,
                                               priority=camunda_attr(self.node, "taskPriority"),
                                               **self.bpmn_attributes))


class BusinessRuleTaskParser(CamundaParserMixin, TaskParser):
    def create_task(self) -> Any:
        if implementation(self.node) is not None:
            return ExternalTaskParser.create_task(self)
        return self.with_io(tasks.BusinessRuleTask(
            self.spec, self.bpmn_id,
            decision_ref=camunda_attr(self.node, "decisionRef") or "",
            result_variable=camunda_attr(self.node, "resultVariable"),
            map_decision_result=camunda_attr(self.node, "mapDecisionResult"),
            **self.bpmn_attributes,
        ))


class ScriptTaskParser(CamundaParserMixin, _ScriptTaskParser):
    def create_task(self) -> Any:
        task = tasks.ScriptTask(self.spec, self.bpmn_id, self.get_script() or "",
                                result_variable=camunda_attr(self.node, "resultVariable"), **self.bpmn_attributes)
        return self.with_io(task)


def _mappings(node: etree._Element, kind: str) -> tuple[dict[str, Any], ...]:
    result = []
    for mapping in camunda_children(node, kind):
        if mapping.get("businessKey") is not None:
            result.append({"businessKey": mapping.get("businessKey")})
        elif mapping.get("variables") == "all":
            result.append({"variables": "all"})
        elif mapping.get("sourceExpression") is not None:
            result.append({"expression": mapping.get("sourceExpression"), "target": mapping.get("target")})
        elif mapping.get("source") is not None:
            result.append({"source": mapping.get("source"), "target": mapping.get("target") or mapping.get("source")})
    return tuple(result)


class CallActivityParser(CamundaParserMixin, _CallActivityParser):
    def create_task(self) -> Any:
        subworkflow_spec = SubprocessParser.get_call_activity_spec(self)
        task = tasks.CallActivity(
            self.spec, self.bpmn_id, subworkflow_spec,
            in_mappings=_mappings(self.node, "in"), out_mappings=_mappings(self.node, "out"),
            **self.bpmn_attributes,
        )
        return self.with_io(task)


class SubWorkflowParser(CamundaParserMixin, _SubWorkflowParser):
    def create_task(self) -> Any:
        subworkflow_spec = SubprocessParser.get_subprocess_spec(self)
        if self.node.get("triggeredByEvent") == "true":  # attribute() would look in the bpmn namespace
            starts = self.node.findall(f"{{{BPMN_NS}}}startEvent")
            interrupting = all(s.get("isInterrupting", "true") != "false" for s in starts)
            task = tasks.EventSubprocess(self.spec, self.bpmn_id, subworkflow_spec,
                                         interrupting=interrupting, **self.bpmn_attributes)
        else:
            task = self.spec_class(self.spec, self.bpmn_id, subworkflow_spec=subworkflow_spec, **self.bpmn_attributes)
        return self.with_io(task)
