"""Exceptions described for logs: types, places and SQL kept; messages (which quote data) withheld."""

from __future__ import annotations

from engine.redaction import describe, summary

CLIENT = {"code": "131052-917X", "name": "Kanari Varoitusmerkki"}  # fictitious (900-999 series)


def raise_chained(client: dict[str, str]) -> None:
    try:
        registry: dict[str, str] = {}
        registry[client["code"]]
    except KeyError as err:
        raise ValueError(f"invalid client {client['name']!r}") from err


def test_messages_are_withheld_but_types_and_places_are_kept() -> None:
    try:
        raise_chained(CLIENT)
    except ValueError as err:
        text = describe(err)
    assert "Kanari" not in text and "131052-917X" not in text
    assert "builtins.KeyError" in text and "builtins.ValueError" in text and "which led to" in text
    assert "test_redaction.py" in text and "raise_chained" in text


def test_messages_that_describe_the_program_are_kept() -> None:
    assert summary(RecursionError("maximum recursion depth exceeded")).endswith("maximum recursion depth exceeded")
    assert "withheld" in summary(RuntimeError("client Kanari"))
