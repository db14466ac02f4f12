"""`polku decide FILE.dmn`: evaluate one decision with given inputs, so process owners test a table before deploying."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from engine.camunda.dmn import DecisionRegistry, parse_dmn
from engine.errors import EngineError


def _top_decision(registry: DecisionRegistry) -> str:
    """The one decision no other decision of the file requires (the table a process would call)."""
    required = {ref for key in registry for ref in registry[key].required}
    tops = [key for key in registry if key not in required]
    if len(tops) != 1:
        raise click.ClickException(f"the file has several decisions ({', '.join(tops)}): name one with --decision")
    return tops[0]


def shaped(results: list[dict[str, Any]], outputs: list[str]) -> Any:
    """One output and at most one hit: the value (as `singleEntry`); one hit: its outputs; else every hit."""
    if len(outputs) == 1 and len(results) <= 1:
        return results[0].get(outputs[0]) if results else None
    if len(results) == 1:
        return results[0]
    return results


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--decision", "decision_id", default=None,
              help="Decision id (default: the file's decision that no other one requires).")
@click.option("--vars", "vars_json", default=None, help="Input variables as a JSON object.")
def decide(file: Path, decision_id: str | None, vars_json: str | None) -> None:
    """Evaluate a decision of FILE and print {"decision", "result", "matchedRules"} as one JSON object."""
    from polku.cli import parse_vars

    variables = parse_vars(vars_json)
    try:
        registry = DecisionRegistry(parse_dmn(file.read_bytes(), file.name))
        key = decision_id or _top_decision(registry)
        explanation = registry.explain(key, variables)
    except EngineError as err:
        raise click.ClickException(str(err)) from err
    result = shaped(explanation.results, registry[key].outputs)
    click.echo(json.dumps({"decision": key, "result": result, "matchedRules": explanation.matched_rules},
                          ensure_ascii=False, default=str))
