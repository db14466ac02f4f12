"""Deploy and validate never print a traceback: each probe of issue 9 is refused as `FILE: ELEMENT_ID: reason`.

Before, these ended in OverflowError or RecursionError tracebacks, or in "Exceeds the limit (4300 digits)"
naming no file or element; a constant `4000000**4000000` in a condition or script deployed and froze the
server when a case reached it; a 50 MB diagram took 40 s and 1.5 GB to check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.camunda import limits
from engine.errors import ValidationFailed
from engine.runtime import Engine
from tests.diagrams import chain, flow, process
from tests.engine.camunda.dmn_xml import dmn, table

POLKU = Path(sys.executable).with_name("polku")
DIGITS = "9" * 5000


def timer(value: str) -> bytes:
    return process("p", '<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="wait">'
                   f'<bpmn:timerEventDefinition id="td"><bpmn:timeDuration>{value}</bpmn:timeDuration>'
                   '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="end"/>'
                   + chain("start", "wait", "end"))


def condition(text: str) -> bytes:
    return process("p", '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="gw" default="no"/>'
                   '<bpmn:endEvent id="end"/><bpmn:endEvent id="other"/>' + chain("start", "gw")
                   + flow("yes", "gw", "end", text) + flow("no", "gw", "other"))


def script(text: str) -> bytes:
    return process("p", '<bpmn:startEvent id="start"/><bpmn:scriptTask id="calc" scriptFormat="python">'
                   f'<bpmn:script>{text}</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="end"/>'
                   + chain("start", "calc", "end"))


def output_cell(text: str) -> bytes:
    return dmn(table("d", [("-", text)]))


PROBES = [  # file name, content, element named, words of the reason
    ("years.bpmn", timer("P999999999999Y"), "wait", "timeDuration 'P999999999999Y' is out of range"),
    ("digits.bpmn", timer("P" + DIGITS + "D"), "wait", "is out of range"),
    ("date.dmn", output_cell('date(number("1e999"),1,1)'), "r1out", "number(): '1e999' is out of range"),
    ("duration.dmn", output_cell('duration("P999999999999D")'), "r1out", "'P999999999999D' is out of range"),
    ("input.dmn", dmn(table("d", [("-", "1")], input_text="(" * 5000 + "x" + ")" * 5000)), "in1expr",
     "nested too deeply"),
    ("entry.dmn", dmn(table("d", [("(" * 3000 + "1" + ")" * 3000, "1")])), "r1in", "nested too deeply"),
    ("literal.dmn", output_cell(DIGITS), "r1out", "has 5,000 digits; at most 4,300 are allowed"),
    ("juel.bpmn", condition("${" + DIGITS + " &gt; 1}"), "yes", "has 5,000 digits; at most 4,300 are allowed"),
    ("python.bpmn", condition(DIGITS + " &gt; 1"), "yes", "a number literal has more than 4,300 digits"),
    ("power.bpmn", condition("4000000**4000000 &gt; 1"), "yes", "would have about 26,408,240 digits"),
    ("width.bpmn", condition("'%100000000d' % 1 != ''"), "yes", "format width above 1000000 is not allowed"),
    ("script.bpmn", script("x = 4000000**4000000"), "calc", "Line 1: 4000000 ** 4000000 would have about"),
    ("repeat.bpmn", script("x = 1\ny = 'ab' * 10**9"), "calc", "Line 2: repeating 'ab' 1000000000 times"),
]


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    for name, data, _element, _words in PROBES:
        (tmp_path / name).write_bytes(data)
    return tmp_path


def validate(*paths: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(POLKU), "validate", *map(str, paths)], env={**os.environ, **(env or {})},
                            capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def test_polku_validate_refuses_each_probe_with_file_element_and_reason(probe_dir: Path) -> None:
    result = validate(probe_dir)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for name, _data, element, words in PROBES:
        mine = [line for line in lines if line.startswith(f"{name}: {element}: ")]
        assert len(mine) == 1 and words in mine[0], (name, lines)
        assert len(mine[0]) < 600  # a 5,000-digit text is quoted cut short


@pytest.mark.parametrize(("name", "data", "element", "words"), PROBES, ids=[p[0] for p in PROBES])
def test_engine_deploy_refuses_each_probe(engine: Engine, name: str, data: bytes, element: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        engine.deploy({name: data})
    [problem] = info.value.problems
    assert (problem.file, problem.element_id) == (name, element)
    assert words in problem.reason


def big_diagram(elements: int, key: str = "p") -> bytes:
    """A process that runs, padded with `elements` Camunda properties (which Polku ignores)."""
    padding = '<camunda:property name="n" value="v"/>' * elements
    return process(key, '<bpmn:startEvent id="start"><bpmn:extensionElements><camunda:properties>'
                   f'{padding}</camunda:properties></bpmn:extensionElements></bpmn:startEvent>'
                   '<bpmn:endEvent id="end"/>' + chain("start", "end"))


def test_a_diagram_over_the_default_size_or_element_count_is_refused_before_parsing(engine: Engine) -> None:
    with pytest.raises(ValidationFailed) as info:
        engine.deploy({"large.bpmn": big_diagram(150_000), "many.bpmn": big_diagram(25_000)})
    reasons = {p.file: (p.element_id, p.reason) for p in info.value.problems}
    assert reasons["large.bpmn"] == (None, "the file has 5,700,642 bytes; the limit is 5,242,880 "
                                           "(POLKU_MAX_DIAGRAM_BYTES)")
    assert reasons["many.bpmn"] == (None, "the file has more than 20,000 XML elements; that is the limit "
                                          "(POLKU_MAX_DIAGRAM_ELEMENTS)")


def test_the_diagram_limits_are_settings(tmp_path: Path) -> None:
    (tmp_path / "small.bpmn").write_bytes(big_diagram(10, key="small"))
    (tmp_path / "medium.bpmn").write_bytes(big_diagram(200))

    assert validate(tmp_path).returncode == 0
    result = validate(tmp_path, env={"POLKU_MAX_DIAGRAM_ELEMENTS": "100"})
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["medium.bpmn: -: the file has more than 100 XML elements; that is the "
                                          "limit (POLKU_MAX_DIAGRAM_ELEMENTS)"]
    result = validate(tmp_path / "medium.bpmn", env={"POLKU_MAX_DIAGRAM_BYTES": "1000"})
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["medium.bpmn: -: the file has 8,242 bytes; the limit is 1,000 "
                                          "(POLKU_MAX_DIAGRAM_BYTES)"]


def test_a_deployed_definition_still_loads_after_the_limits_were_lowered(engine: Engine) -> None:
    engine.deploy({"medium.bpmn": big_diagram(200)})
    try:
        limits.configure(limits.Limits(diagram_elements=100))
        fresh = Engine(engine.db)  # a restarted server: nothing parsed yet
        case_id = fresh.start("p")
        assert fresh.case(case_id)["status"] == "completed"
    finally:
        limits.configure(limits.Limits())


def test_polku_deploy_refuses_with_the_same_lines(tmp_path: Path) -> None:
    (tmp_path / "medium.bpmn").write_bytes(big_diagram(200))
    (tmp_path / "power.bpmn").write_bytes(condition("4000000**4000000 &gt; 1"))
    env = {"POLKU_DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.db'}", "POLKU_SECRET_KEY": "k" * 40,
           "POLKU_MAX_DIAGRAM_ELEMENTS": "100"}
    result = subprocess.run([str(POLKU), "deploy", str(tmp_path)], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=300, check=False)

    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert "medium.bpmn: -: the file has more than 100 XML elements; that is the limit (POLKU_MAX_DIAGRAM_ELEMENTS)" \
        in lines
    assert any(line.startswith("power.bpmn: yes: condition '4000000**4000000 > 1' is invalid: ") for line in lines)
