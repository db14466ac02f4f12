"""Checks run on the XML before SpiffWorkflow parses it, so refusals name the element and the reason.

Camunda's own semantics decide what is refused: scripts in languages other than Python wherever
they are (script tasks, input/output parameters, connectors, listeners, conditions), external
script resources, CMMN case calls, service tasks with no implementation. What Camunda would run
but Polku need not (listeners without a foreign script, async continuations, history time to
live) is accepted with a warning.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from lxml import etree

from engine.camunda.bounds import readable, shorten
from engine.camunda.juel import compile_juel, is_juel
from engine.camunda.parser.extensions import BPMN_NS, EXTENSION_NAMESPACES, camunda_attr, camunda_children
from engine.camunda.parser.task_parsers import ASSIGNMENT_ATTRIBUTES, implementation
from engine.camunda.sandbox import HELPERS, check_python_expression, check_script
from engine.camunda.timer_expression import check_literal
from engine.errors import DiagramError, EngineError
from engine.forms import parse_form

PYTHON_LANGUAGES = {None, "", "python", "python3"}
XPATH = "http://www.w3.org/1999/XPath"  # BPMN's default expression language: the text is read as JUEL or Python
EXPRESSION_LANGUAGES = PYTHON_LANGUAGES | {"juel", "JUEL", XPATH}
LISTENERS = ("executionListener", "taskListener")
TIMER_KINDS = {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}
IGNORED_ATTRIBUTES = ("async", "asyncBefore", "asyncAfter", "exclusive", "jobPriority", "historyTimeToLive")


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


@dataclass
class Findings:
    """What a file's checks found: problems refuse the deployment, warnings do not."""

    file: str
    problems: list[DiagramError] = field(default_factory=list)
    warnings: list[DiagramError] = field(default_factory=list)

    def problem(self, element: etree._Element | None, reason: str) -> None:
        self.problems.append(DiagramError(reason, _id(element), self.file))

    def problem_at(self, element_id: str | None, reason: str) -> None:
        self.problems.append(DiagramError(reason, element_id, self.file))

    def warning(self, element: etree._Element | None, reason: str) -> None:
        self.warnings.append(DiagramError(reason, _id(element), self.file))


def _id(element: etree._Element | None) -> str | None:
    """The id to report: the element's own, or its nearest ancestor's; event definitions name their event."""
    while element is not None:
        definition = isinstance(element.tag, str) and etree.QName(element).localname.endswith("EventDefinition")
        if element.get("id") and not (definition and element.getparent() is not None):
            return element.get("id")
        element = element.getparent()
    return None


def executable_processes(root: etree._Element) -> list[etree._Element]:
    return [p for p in root.iter(_q("process")) if p.get("isExecutable", "true") != "false"]


# Names a diagram's Python never has a reason to mention: refused even when not called.
_HOST_NAMES = frozenset({"eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
                         "breakpoint", "memoryview"})


def unavailable_names(code: str, mode: str) -> list[str]:
    """Functions Python code calls that the sandbox does not provide (open, eval...): it could only fail.

    Variables hold data, never functions, so a call to a name the code does not define itself
    and that is not a sandbox helper cannot work; refusing it at deploy time names `open()` and
    friends before a case ever reaches them.
    """
    try:
        tree = ast.parse(code.strip(), mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the sandbox's own check reports the syntax
    bound = set(HELPERS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.Lambda):
            if isinstance(node, ast.FunctionDef):
                bound.add(node.name)
            bound.update(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in bound:
            found.add(node.func.id)
        elif isinstance(node, ast.Name) and node.id in _HOST_NAMES and node.id not in bound - set(HELPERS):
            found.add(node.id)
    return sorted(found)


def _unavailable(names: list[str]) -> EngineError:
    listed = ", ".join(f"{n}()" for n in names)
    return EngineError(f"uses {listed}, which {'is' if len(names) == 1 else 'are'} not available in the sandbox "
                       "(no file, network or interpreter access)")


def check_expression(findings: Findings, element: etree._Element, text: str | None, what: str) -> None:
    """A condition or value: JUEL must compile; other text is Python (for conditions) or a literal."""
    if not text or not text.strip():
        return
    try:
        if is_juel(text):
            compile_juel(text)
        elif what == "condition":
            check_python_expression(text.strip())
            names = unavailable_names(text, "eval")
            if names:
                raise _unavailable(names)
    except EngineError as err:
        findings.problem(element, f"{what} {shorten(text)!r} is invalid: {err}")


def _check_script(findings: Findings, element: etree._Element, language: str | None, body: str | None,
                  resource: str | None, what: str, runs: bool = True) -> None:
    """A script must be inline Python; one that runs (`runs`) must also pass the sandbox's checks."""
    if resource:
        findings.problem(element, f"{what} loads an external script resource ({resource}); inline Python is required")
    elif (language or "").lower() not in PYTHON_LANGUAGES:
        findings.problem(element, f"{what} is written in {language}; only Python scripts are supported")
    elif runs:
        try:
            check_script(body or "")
            names = unavailable_names(body or "", "exec")
            if names:
                raise _unavailable(names)
        except EngineError as err:
            findings.problem(element, f"{what} is not a safe Python script: {err}")


def check_element(findings: Findings, el: etree._Element) -> None:
    tag = etree.QName(el).localname
    for attr in IGNORED_ATTRIBUTES:
        if camunda_attr(el, attr) not in (None, "false"):
            findings.warning(el, f"camunda:{attr} is accepted and ignored")
    for listener in LISTENERS:
        if camunda_children(el, listener):
            findings.warning(el, f"camunda:{listener} is ignored")
    if tag in ("userTask", "startEvent"):
        # the task parser reads the form again; a broken form is reported here, by element and reason
        try:
            parse_form(el, findings.file)
        except DiagramError as err:
            findings.problem(el, err.reason)
    for kind in ("inputParameter", "outputParameter"):
        for param in camunda_children(el, f"inputOutput/{kind}"):
            if not len(param):
                check_expression(findings, el, param.text, f"{kind} '{param.get('name')}'")
    connector = camunda_children(el, "connector/inputOutput/inputParameter") + camunda_children(
        el, "connector/inputOutput/outputParameter")
    if connector:
        findings.warning(el, "camunda:connector input/output parameters are not applied: the connector runs as a "
                         "job whose worker receives the case's variables and returns the ones to set")
    _check_language(findings, el, tag)
    if tag == "scriptTask":
        script = el.find(_q("script"))
        _check_script(findings, el, el.get("scriptFormat"), script.text if script is not None else None,
                      camunda_attr(el, "resource"), "script task")
    elif tag in ("serviceTask", "sendTask"):
        impl = implementation(el)
        if impl is None and tag == "serviceTask":
            findings.problem(el, "service task has no implementation: set camunda:type=\"external\" with a topic, "
                             "or camunda:class / expression / delegateExpression")
        elif impl is not None and impl[0] == "external" and not impl[1]:
            findings.problem(el, "external task has no camunda:topic")
    elif tag == "businessRuleTask":
        if implementation(el) is None and not camunda_attr(el, "decisionRef"):
            findings.problem(el, "business rule task has neither camunda:decisionRef nor an implementation")
    elif tag == "callActivity":
        if camunda_attr(el, "caseRef") is not None:
            findings.problem(el, "calls a CMMN case (camunda:caseRef); CMMN is not supported")
        elif not el.get("calledElement"):
            findings.problem(el, "call activity has no calledElement")
        elif is_juel(el.get("calledElement")):
            findings.problem(el, "calledElement must name a process; expressions are not supported")
    elif tag == "userTask":
        for attr in ASSIGNMENT_ATTRIBUTES:
            check_expression(findings, el, camunda_attr(el, attr), f"camunda:{attr}")
    elif tag == "sequenceFlow":
        for cond in el.findall(_q("conditionExpression")):
            if _readable(cond):
                check_expression(findings, el, cond.text, "condition")
    elif tag == "conditionalEventDefinition":
        for cond in el.findall(_q("condition")):
            if _readable(cond):
                check_expression(findings, el, cond.text, "condition")
    elif tag == "timerEventDefinition":
        for child in el:
            if not isinstance(child.tag, str):
                continue
            timer_kind = TIMER_KINDS.get(etree.QName(child).localname)
            text = (child.text or "").strip()
            if timer_kind is None:
                continue
            if not text:
                findings.problem(el, f"timer {etree.QName(child).localname} is empty")
            elif is_juel(text):
                check_expression(findings, el, text, "timer")
            else:
                try:
                    check_literal(timer_kind, text)
                except EngineError as err:
                    findings.problem(el, f"timer is invalid: {err}")
    elif tag in ("complexGateway",):
        findings.problem(el, "complex gateways are not supported")
    elif tag == "multiInstanceLoopCharacteristics":
        collection = camunda_attr(el, "collection")
        if collection and is_juel(collection):
            check_expression(findings, el, collection, "camunda:collection")


def _readable(expression: etree._Element) -> bool:
    """An expression Polku evaluates: inline, in JUEL or Python (a foreign one is refused by _check_language)."""
    return expression.get("language") in EXPRESSION_LANGUAGES and not camunda_attr(expression, "resource")


def _check_language(findings: Findings, el: etree._Element, tag: str) -> None:
    """A formal expression (condition, completion condition...) in another language, or loaded from a resource."""
    what = "condition" if tag in ("conditionExpression", "condition") else tag
    language = el.get("language")
    if language is not None and language not in EXPRESSION_LANGUAGES:
        findings.problem(el, f"{what} is written in {language}; use JUEL (${{...}}) or Python")
    resource = camunda_attr(el, "resource")
    if resource and tag != "scriptTask":
        findings.problem(el, f"{what} loads an external script resource ({resource}); inline JUEL or Python "
                         "is required")


def _is_extension_script(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace in EXTENSION_NAMESPACES and \
        etree.QName(el).localname == "script"


def check_extension_script(findings: Findings, script: etree._Element) -> None:
    """A `camunda:script` anywhere: in an input/output parameter (also a connector's) or a listener.

    Parameters of the element itself run in the sandbox and must be safe Python; a connector's
    parameters and listeners are not run, but a script in another language means the diagram
    depends on behaviour Polku would silently skip, so it is refused like any other.
    """
    parameter = listener = None
    in_connector = False
    owner = script.getparent()
    while owner is not None and etree.QName(owner).namespace != BPMN_NS:
        local = etree.QName(owner).localname
        if local in ("inputParameter", "outputParameter") and parameter is None:
            parameter = owner
        elif local in LISTENERS:
            listener = owner
        elif local == "connector":
            in_connector = True
        owner = owner.getparent()
    if listener is not None:
        what = f"camunda:{etree.QName(listener).localname} ({listener.get('event') or 'no event'}) script"
    elif parameter is not None:
        what = f"{etree.QName(parameter).localname} '{parameter.get('name')}' script"
    else:
        what = "camunda:script"
    if in_connector:
        what = f"camunda:connector {what}"
    runs = listener is None and not in_connector
    _check_script(findings, owner if owner is not None else script, script.get("scriptFormat"), script.text,
                  script.get("resource"), what, runs=runs)


def check_process(findings: Findings, process: etree._Element) -> None:
    for el in process.iter():
        try:
            if _is_extension_script(el):
                check_extension_script(findings, el)
            elif isinstance(el.tag, str):
                check_element(findings, el)
        except Exception as exc:  # noqa: BLE001 - never a traceback: the element is refused, with the reason
            findings.problem(el, f"cannot be checked: {readable(exc)}")
