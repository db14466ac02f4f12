"""The Camunda-compatible parser: SpiffWorkflow's BpmnParser with our task parsers and checks.

`parse_resources` is the one entry point: it takes a deployment's files (BPMN, DMN, forms) and
returns the parsed specs of every executable process and the deployment's decisions, or raises
ValidationFailed listing every problem as `FILE: ELEMENT_ID: reason`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser, GatewayParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import SendTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.camunda import limits
from engine.camunda.bounds import readable
from engine.camunda.dmn import DecisionRegistry, parse_dmn
from engine.camunda.juel import is_juel
from engine.camunda.parser import event_parsers as ev
from engine.camunda.parser import task_parsers as tp
from engine.camunda.parser.extensions import BPMN_NS, camunda_attr
from engine.camunda.parser.structure import check_document, check_nested_event_subprocesses, check_structure
from engine.camunda.parser.validation import Findings, check_process, executable_processes
from engine.camunda.specs import gateways, tasks
from engine.camunda_forms import check_form_refs, parse_form_file
from engine.errors import DiagramError, EngineError, ValidationFailed

DMN_SUFFIXES = (".dmn",)
FORM_SUFFIXES = (".form",)

_TAGS: dict[str, tuple[Any, Any]] = {}


def _register(tag: str, parser_class: Any, spec_class: Any) -> None:
    """Fail on a tag listed twice instead of letting the last one silently win."""
    key = full_tag(tag)
    if key in _TAGS:
        raise RuntimeError(f"parser for {tag} registered twice")
    _TAGS[key] = (parser_class, spec_class)


for _tag, _parser, _spec in (
    ("userTask", tp.UserTaskParser, tasks.UserTask),
    ("task", tp.PlainTaskParser, tasks.NoneTask),
    ("manualTask", tp.PlainTaskParser, tasks.ManualTask),
    ("serviceTask", tp.ExternalTaskParser, tasks.ExternalTask),
    ("businessRuleTask", tp.BusinessRuleTaskParser, tasks.BusinessRuleTask),
    ("scriptTask", tp.ScriptTaskParser, tasks.ScriptTask),
    ("callActivity", tp.CallActivityParser, tasks.CallActivity),
    ("subProcess", tp.SubWorkflowParser, tasks.SubWorkflowTask),
    ("transaction", tp.SubWorkflowParser, tasks.TransactionSubprocess),
    ("startEvent", ev.StartEventParser, tasks.StartEvent),
    ("endEvent", ev.EndEventParser, tasks.EndEvent),
    ("intermediateCatchEvent", ev.IntermediateCatchEventParser, tasks.IntermediateCatchEvent),
    ("intermediateThrowEvent", ev.IntermediateThrowEventParser, tasks.IntermediateThrowEvent),
    ("boundaryEvent", ev.BoundaryEventParser, tasks.BoundaryEvent),
    ("receiveTask", ev.ReceiveTaskParser, tasks.ReceiveTask),
    ("sendTask", ev.SendTaskParser, SendTask),
    ("parallelGateway", GatewayParser, gateways.ParallelGateway),  # joins that work in loops
    ("inclusiveGateway", ConditionalGatewayParser, gateways.InclusiveGateway),
):
    _register(_tag, _parser, _spec)


class CamundaProcessParser(ProcessParser):
    """Indexes only BPMN elements by id: a form's `camunda:value id="x"` is not the element `x`."""

    def _index_process_nodes(self) -> None:
        super()._index_process_nodes()
        for node in self.xpath(".//*[@id]"):
            if not node.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            self.nodes_by_id[node.get("id")] = node


class CamundaCompatParser(BpmnParser):
    """Runs Camunda Modeler files: our parsers per tag; data stores need no implementation."""

    OVERRIDE_PARSER_CLASSES = _TAGS
    PROCESS_PARSER_CLASS = CamundaProcessParser

    def _add_data_stores(self, bpmn: Any) -> None:
        """Data stores are documentation for Polku: nothing reads or writes them."""


@dataclass
class ParsedProcess:
    """One executable process: its spec and the specs of everything it calls or embeds."""

    id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass
class ParsedDeployment:
    processes: dict[str, ParsedProcess] = field(default_factory=dict)
    decisions: DecisionRegistry | None = None
    warnings: list[DiagramError] = field(default_factory=list)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)  # Camunda Forms by form id


def _xml(name: str, data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as err:
        raise ValidationFailed([DiagramError(f"not well-formed XML: {err}", None, name)]) from err
    except (ValueError, MemoryError, RecursionError) as err:
        raise ValidationFailed([DiagramError(f"cannot be read: {readable(err)}", None, name)]) from err


class _TooManyElements(Exception):
    pass


class _ElementCounter:
    """An lxml parser target that builds nothing: it counts start tags and stops past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def start(self, tag: str, attrib: Any, nsmap: Any = None) -> None:
        self.count += 1
        if self.count > self.limit:
            raise _TooManyElements

    def end(self, tag: str) -> None:
        """Nothing to do: only start tags are counted."""

    def data(self, data: str) -> None:
        """Text is not counted."""

    def close(self) -> int:
        return self.count


def _chunks(data: bytes, size: int = 1 << 16) -> Iterable[bytes]:
    return (data[i:i + size] for i in range(0, len(data), size))


def size_problem(name: str, data: bytes) -> DiagramError | None:
    """A file over the configured size or element count, found before anything is parsed.

    A 50 MB diagram of 2 million elements took 40 s and 1.5 GB to check; its bytes are compared
    first, then its elements are counted by a streaming parser that builds no tree and stops
    at the first element over the limit.
    """
    allowed = limits.current()
    if len(data) > allowed.diagram_bytes:
        return DiagramError(f"the file has {len(data):,} bytes; the limit is {allowed.diagram_bytes:,} "
                            "(POLKU_MAX_DIAGRAM_BYTES)", None, name)
    if name.endswith(FORM_SUFFIXES):
        return None
    counter = _ElementCounter(allowed.diagram_elements)
    parser = etree.XMLParser(target=counter, resolve_entities=False, no_network=True)
    try:
        for chunk in _chunks(data):
            parser.feed(chunk)
        parser.close()
    except _TooManyElements:
        return DiagramError(f"the file has more than {allowed.diagram_elements:,} XML elements; that is the limit "
                            "(POLKU_MAX_DIAGRAM_ELEMENTS)", None, name)
    except Exception:  # noqa: BLE001 - malformed XML is reported by the parse that follows, with its reason
        return None
    return None


def _spiff_error(err: Exception, name: str) -> DiagramError:
    if isinstance(err, ValidationException):
        # SpiffWorkflow wraps anything a task parser raises as ValidationException(repr(error))
        inner = err.__cause__ or err.__context__
        if isinstance(inner, DiagramError):
            return DiagramError(inner.reason, inner.element_id or err.id or None, inner.file or err.file_name or name)
        if inner is not None and not isinstance(inner, SpiffWorkflowException):
            reason = f"cannot be parsed ({inner.__class__.__name__}: {inner})"
        else:
            reason = str(err.args[0]) if err.args else str(err)
        return DiagramError(reason, err.id or None, err.file_name or name)
    if isinstance(err, SpiffWorkflowException):
        spec = getattr(err, "task_spec", None)
        return DiagramError(str(err.args[0]) if err.args else str(err), getattr(spec, "bpmn_id", None), name)
    if isinstance(err, EngineError):
        return DiagramError(str(err), None, name)
    return DiagramError(f"cannot be parsed ({err.__class__.__name__}: {err})", None, name)


def _patch_send_tasks(root: etree._Element) -> None:
    """Send tasks with an implementation are parsed as service tasks (a worker runs them)."""
    for node in root.iter(f"{{{BPMN_NS}}}sendTask"):
        if tp.implementation(node) is not None:
            node.tag = f"{{{BPMN_NS}}}serviceTask"


def name_unnamed_flows(root: etree._Element) -> None:
    """Give sequence flows without an id (Camunda's own test diagrams have them) an id of their own.

    The id is made from the flow's source and target, numbered in document order when several flows
    join the same two elements, and never one the file already uses: the same file always gets the
    same ids, so a saved case finds its flows again when its definition is parsed anew.
    """
    flows = [f for f in root.iter(f"{{{BPMN_NS}}}sequenceFlow") if not f.get("id")]
    if not flows:
        return
    taken = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for flow in flows:
        base = f"flow_{flow.get('sourceRef') or 'none'}_{flow.get('targetRef') or 'none'}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        flow.set("id", candidate)


def _drop_data_store_associations(root: etree._Element) -> None:
    """Data store associations are documentation in Polku; SpiffWorkflow would want an implementation."""
    stores = {r.get("id") for r in root.iter(f"{{{BPMN_NS}}}dataStoreReference")}
    if not stores:
        return
    for kind, ref in (("dataInputAssociation", "sourceRef"), ("dataOutputAssociation", "targetRef")):
        for assoc in list(root.iter(f"{{{BPMN_NS}}}{kind}")):
            refs = {(r.text or "").strip() for r in assoc.findall(f"{{{BPMN_NS}}}{ref}")}
            if refs & stores:
                assoc.getparent().remove(assoc)


def _check_calls(executable: list[tuple[str, etree._Element]]) -> list[DiagramError]:
    """Call activities naming a process the deployment does not hold (SpiffWorkflow would not say which),
    and what a called process cannot do."""
    deployed = {process.get("id") for _, process in executable}
    called: set[str | None] = set()
    problems = []
    for name, process in executable:
        for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
            target = call.get("calledElement")
            called.add(target)
            if target and not is_juel(target) and target not in deployed:
                problems.append(DiagramError(
                    f"calls process '{target}', which is not an executable process of this deployment",
                    call.get("id"), name))
    for name, process in executable:
        findings = Findings(name)
        check_nested_event_subprocesses(findings, process, process.get("id") in called)
        problems.extend(findings.problems)
    return problems


def _check_file(findings: Findings, root: etree._Element, decisions: DecisionRegistry | None
                ) -> list[tuple[str, etree._Element]]:
    """Polku's own checks of one BPMN file; returns its executable processes."""
    processes = executable_processes(root)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        findings.problem(None, "not a BPMN 2.0 definitions document")
    elif not processes:
        findings.problem(root, 'no executable process (set isExecutable="true" on a process)')
    check_document(findings, root)
    executable = []
    for process in processes:
        check_process(findings, process)
        check_structure(findings, process, root)
        executable.append((findings.file, process))
        for rule in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
            ref = camunda_attr(rule, "decisionRef")
            if ref and not is_juel(ref) and tp.implementation(rule) is None and (
                    decisions is None or ref not in decisions):
                findings.problem(rule, f"decision '{ref}' is not in this deployment")
    return executable


def _add_form(result: ParsedDeployment, problems: list[DiagramError], name: str, data: bytes) -> None:
    """A Camunda Form of the deployment, by its id; two files with one id would make formRef ambiguous."""
    try:
        schema = parse_form_file(name, data)
    except ValidationFailed as err:
        problems.extend(err.problems)
        return
    form = str(schema["id"])
    if form in result.forms:
        problems.append(DiagramError(f"form id '{form}' is used by two .form files of the deployment", form, name))
    result.forms[form] = schema


def parse_resources(resources: dict[str, bytes], check_size: bool = True) -> ParsedDeployment:
    """Parse and check a deployment's files; raise ValidationFailed listing every problem.

    `check_size` refuses files over the configured size or element count before they are parsed;
    a definition already deployed is loaded again without it, so lowering a limit breaks no case.
    """
    problems: list[DiagramError] = []
    result = ParsedDeployment()
    decisions = []
    bpmn_files: list[tuple[str, etree._Element]] = []
    for name, data in sorted(resources.items()):
        too_big = size_problem(name, data) if check_size else None
        if too_big is not None:
            problems.append(too_big)
            continue
        if name.endswith(FORM_SUFFIXES):
            _add_form(result, problems, name, data)
            continue
        if name.endswith(DMN_SUFFIXES):
            try:
                decisions.extend(parse_dmn(data, name))
            except DiagramError as err:
                problems.append(err)
            except Exception as err:  # noqa: BLE001 - never a traceback
                problems.append(DiagramError(f"cannot be read: {readable(err)}", None, name))
            continue
        try:
            root = _xml(name, data)
            name_unnamed_flows(root)
            bpmn_files.append((name, root))
        except ValidationFailed as err:
            problems.extend(err.problems)
    try:
        result.decisions = DecisionRegistry(decisions)
    except DiagramError as err:
        problems.append(err)
    except Exception as err:  # noqa: BLE001 - e.g. a requirement chain too long to follow
        problems.append(DiagramError(f"the decisions cannot be checked: {readable(err)}", None,
                                     next((d.file for d in decisions if d.file), None)))

    parser = CamundaCompatParser()
    executable: list[tuple[str, etree._Element]] = []
    for name, root in bpmn_files:
        findings = Findings(name)
        try:
            executable.extend(_check_file(findings, root, result.decisions))
        except Exception as err:  # noqa: BLE001 - never a traceback: the file is refused, with the reason
            findings.problem(None, f"cannot be checked: {readable(err)}")
        form_problems, form_warnings = check_form_refs(root, result.forms, name)
        problems.extend(findings.problems + form_problems)
        result.warnings.extend(findings.warnings + form_warnings)
        if findings.problems or form_problems:
            continue
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable", "true") == "false":
                process.getparent().remove(process)
        _patch_send_tasks(root)
        _drop_data_store_associations(root)
        try:
            parser.add_bpmn_xml(root, name)
        except Exception as err:  # noqa: BLE001 - every parser failure becomes a DiagramError
            problems.append(_spiff_error(err, name))
    problems.extend(_check_calls(executable))
    if problems:
        raise ValidationFailed(problems)

    for name, process in executable:
        pid = process.get("id")
        try:
            spec = parser.get_spec(pid)
            subprocesses = parser.get_subprocess_specs(pid)
        except Exception as err:  # noqa: BLE001
            problems.append(_spiff_error(err, name))
            continue
        missing = [sid for sid, sp in subprocesses.items() if sp is None]
        for sid in missing:
            problems.append(DiagramError(f"calls process '{sid}', which is not in this deployment", pid, name))
        result.processes[pid] = ParsedProcess(pid, process.get("name") or pid, spec, subprocesses)
    if problems:
        raise ValidationFailed(problems)
    return result

