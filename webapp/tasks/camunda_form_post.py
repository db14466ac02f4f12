"""Reading a posted Camunda Form back: input names are field paths (`services[0].provider`).

`form_values_from_request` gives the engine nested raw values (text as typed) and applies a pressed
"Add a row" / "Remove"; `webapp.tasks.camunda_form` draws the inputs these names come from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.camunda_forms import INPUT_TYPES, MULTIPLE_TYPES, components, path_text, segments

ADD = "_add"  # submit button: value is the list's path; adds an empty row
REMOVE = "_remove"  # submit button: value is the row's path (`services[1]`); removes it
ROWS = "_rows."  # hidden input `_rows.<list path>`: how many rows the page showed
MAX_ROWS = 500  # a post cannot make the page draw more rows than this
Path = list[str | int]
_PART = re.compile(r"([A-Za-z0-9_]+)|\[(\d+)\]|\.")


def parse_path(text: str) -> Path:
    """`services[1].provider` as `["services", 1, "provider"]`; [] for anything else."""
    parts: Path = []
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            return []
        if match.group(1):
            parts.append(match.group(1))
        elif match.group(2):
            parts.append(int(match.group(2)))
        pos = match.end()
    return parts


def form_values_from_request(schema: Mapping[str, Any], form: MultiDict[str, str] | Mapping[str, Any]
                             ) -> dict[str, Any]:
    """The posted fields as nested raw values (text as typed) for the engine, with a pressed "Add a row" or
    "Remove" applied. Fields the page did not send (read-only, disabled) are left out, so they keep their value.
    """
    posted = form if isinstance(form, MultiDict) else MultiDict(form)
    out: dict[str, Any] = {}
    _read_scope(schema, posted, [], out)
    added, removed = posted.get(ADD), posted.get(REMOVE)
    if added:
        rows = _at(out, parse_path(added))
        if isinstance(rows, list):
            rows.append({})
    if removed:
        parts = parse_path(removed)
        rows = _at(out, parts[:-1]) if parts and isinstance(parts[-1], int) else None
        if isinstance(rows, list) and isinstance(parts[-1], int) and parts[-1] < len(rows):
            del rows[parts[-1]]
    return out


def wants_row_change(form: Mapping[str, Any]) -> bool:
    """True when the post was "Add a row" or "Remove": show the form again instead of completing the task."""
    return bool(form.get(ADD) or form.get(REMOVE))


def _at(data: Any, path: Path) -> Any:
    for part in path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def _put(out: dict[str, Any], key: list[str], value: Any) -> None:
    for part in key[:-1]:
        inner = out.get(part)
        if not isinstance(inner, dict):
            inner = out[part] = {}
        out = inner
    out[key[-1]] = value


def _read_scope(container: Mapping[str, Any], posted: MultiDict[str, str], prefix: Path, out: dict[str, Any]) -> None:
    for component in components(container):
        kind = component.get("type")
        if kind in INPUT_TYPES:
            key = segments(str(component.get("key")))
            name = path_text([*prefix, *key])
            if name not in posted:
                continue
            sent = posted.getlist(name)
            if kind in MULTIPLE_TYPES:
                _put(out, key, [v for v in sent if v != ""])
            elif kind == "checkbox":
                _put(out, key, sent[-1] == "true")
            else:
                _put(out, key, sent[-1])
        elif kind == "group":
            path = segments(component.get("path"))
            if path:
                inner: dict[str, Any] = {}
                _read_scope(component, posted, [*prefix, *path], inner)
                if inner:
                    _put(out, path, inner)
            else:
                _read_scope(component, posted, prefix, out)
        elif kind == "dynamiclist":
            path = segments(component.get("path"))
            name = path_text([*prefix, *path])
            count = _row_count(posted, name)
            if count is None:
                continue
            rows = []
            for n in range(count):
                row: dict[str, Any] = {}
                _read_scope(component, posted, [*prefix, *path, n], row)
                rows.append(row)
            _put(out, path, rows)


def _row_count(posted: MultiDict[str, str], name: str) -> int | None:
    """How many rows the page showed (its `_rows.` field), else one past the highest row number posted."""
    shown = posted.get(ROWS + name)
    if shown is not None and shown.isdigit():
        return min(int(shown), MAX_ROWS)
    numbers = [int(m.group(1)) for key in posted for m in [re.match(re.escape(name) + r"\[(\d+)\]", key)] if m]
    return min(max(numbers) + 1, MAX_ROWS) if numbers else None
