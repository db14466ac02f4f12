"""Polku's own saved-state versions: what `STATE_VERSION` a case state has and how an older one is upgraded.

SpiffWorkflow's serializer has its own version and migrations (spiff_versions.py); this table covers what
Polku itself puts in the state (e.g. its converters' fields). Each entry upgrades one version to the next;
`upgrade` applies them in order until the state is at `STATE_VERSION`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import StateVersionError

State = dict[str, Any]
Step = tuple[str, Callable[[State], State]]  # (the version it produces, the function)

# Saved with every case (column `case.state_format`); bump it and add an entry below when the saved shape changes.
STATE_VERSION = "polku-1"

# older STATE_VERSION -> (next version, upgrade to it). None yet: polku-1 is the first shape ever saved.
UPGRADES: dict[str, Step] = {}


def check_table(table: Mapping[str, Step], current: str = STATE_VERSION) -> None:
    """Every entry leads to `current` without a cycle; raises StateVersionError naming the broken chain."""
    for start in table:
        seen = [start]
        version = start
        while version != current:
            if version not in table:
                raise StateVersionError(f"state upgrade chain {' -> '.join(seen)} stops before {current}")
            version = table[version][0]
            if version in seen:
                raise StateVersionError(f"state upgrade chain {' -> '.join([*seen, version])} is a cycle")
            seen.append(version)


def upgrade(state: State, version: str, table: Mapping[str, Step] | None = None,
            current: str = STATE_VERSION) -> State:
    """The state brought from `version` to `current`, one table entry at a time, oldest first."""
    steps = UPGRADES if table is None else table
    check_table(steps, current)
    while version != current:
        if version not in steps:
            raise StateVersionError(f"case state version {version!r} cannot be upgraded to {current}")
        version, step = steps[version]
        state = step(state)
    return state


check_table(UPGRADES)
