"""What changed between two versions of a case's plan: items added, removed and changed, and the plan's own fields.

Plan versions are never edited (casework.plan), so a reader sees how the plan evolved by comparing a version with
the one before it. Items are matched the way the process matches them: a service by its type, provider and partner
(`casework.plan.same_service`), the main goal as the one main goal, other goals and the client's tasks by their text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.errors import NotFound
from casework.plan import ItemKind, PlanItem, PlanVersion, same_service

# The fields a reader compares, per item kind (the attribute of PlanItem, and the name the diff gives it).
_ITEM_FIELDS: dict[ItemKind, tuple[str, ...]] = {
    ItemKind.MAIN_GOAL: ("text", "responsible", "due"),
    ItemKind.GOAL: ("responsible", "due"),
    ItemKind.SERVICE: ("responsible", "due", "text", "consent_to_share"),
    ItemKind.CLIENT_TASK: ("due",),
}
_PLAN_FIELDS = ("follow_up_months", "next_meeting", "client_view", "division_of_labour", "starting_situation")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its name (as in the model) and both values, as stored."""

    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ItemSummary:
    """A plan item as the diff names it: kind, a label a person recognises, and its responsible actor and date."""

    kind: ItemKind
    label: str
    responsible: str
    due: date
    service_type: str | None = None
    provider: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "label": self.label, "responsible": self.responsible,
                "due": self.due.isoformat(), "serviceType": self.service_type, "provider": self.provider}


@dataclass(frozen=True)
class ItemChange:
    item: ItemSummary  # as it is in the later version
    changes: tuple[FieldChange, ...]

    def as_json(self) -> dict[str, Any]:
        return {**self.item.as_json(), "changes": [_change_json(c) for c in self.changes]}


@dataclass(frozen=True)
class PlanDiff:
    from_version: int | None  # None: the first version (everything in it is added)
    to_version: int
    added: tuple[ItemSummary, ...] = ()
    removed: tuple[ItemSummary, ...] = ()
    changed: tuple[ItemChange, ...] = ()
    plan_changes: tuple[FieldChange, ...] = field(default=())
    reason: str | None = None  # why the later version was made

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.plan_changes)

    def as_json(self) -> dict[str, Any]:
        return {"from": self.from_version, "to": self.to_version, "reason": self.reason,
                "added": [i.as_json() for i in self.added], "removed": [i.as_json() for i in self.removed],
                "changed": [c.as_json() for c in self.changed],
                "planChanges": [_change_json(c) for c in self.plan_changes]}


def _value_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {"field": change.name, "before": _value_json(change.before), "after": _value_json(change.after)}


def summary(item: PlanItem) -> ItemSummary:
    """The item as a reader recognises it: a goal or task by its text, a service by its type and provider."""
    service_type = item.service_type.value if item.service_type is not None else None
    if item.kind is ItemKind.SERVICE:
        label = " – ".join(p for p in (service_type or "other", item.provider_organisation or "") if p)
    else:
        label = item.text
    return ItemSummary(item.kind, label, item.responsible, item.due, service_type, item.provider_organisation)


def _identity(item: PlanItem) -> tuple[object, ...]:
    if item.kind is ItemKind.SERVICE:
        return (item.kind, *same_service(item))
    if item.kind is ItemKind.MAIN_GOAL:
        return (item.kind,)
    return item.kind, item.text.strip().casefold()


def diff_plans(before: PlanVersion | None, after: PlanVersion) -> PlanDiff:
    """What `after` changed compared with `before` (None: `after` is the first version, all of it added)."""
    if before is None:
        return PlanDiff(None, after.version, added=tuple(summary(i) for i in after.items), reason=after.reason)
    earlier: dict[tuple[object, ...], list[PlanItem]] = defaultdict(list)
    for item in before.items:
        earlier[_identity(item)].append(item)
    added: list[ItemSummary] = []
    changed: list[ItemChange] = []
    for item in after.items:
        matches = earlier.get(_identity(item))
        if not matches:
            added.append(summary(item))
            continue
        old = matches.pop(0)  # two items of the same identity pair off in order
        changes = tuple(FieldChange(name, getattr(old, name), getattr(item, name))
                        for name in _ITEM_FIELDS[item.kind] if getattr(old, name) != getattr(item, name))
        if changes:
            changed.append(ItemChange(summary(item), changes))
    left = {id(i) for items in earlier.values() for i in items}
    removed = [summary(i) for i in before.items if id(i) in left]
    plan_changes = tuple(FieldChange(name, getattr(before, name), getattr(after, name))
                         for name in _PLAN_FIELDS if (getattr(before, name) or None) != (getattr(after, name) or None))
    return PlanDiff(before.version, after.version, tuple(added), tuple(removed), tuple(changed), plan_changes,
                    after.reason)


def version_of(session: Session, case_id: str, version: int) -> PlanVersion:
    found = session.scalar(select(PlanVersion).where(PlanVersion.case_id == case_id, PlanVersion.version == version))
    if found is None:
        raise NotFound(f"the plan has no version {version}")
    return found


def diff_versions(session: Session, case_id: str, from_version: int | None, to_version: int) -> PlanDiff:
    """The diff between two stored versions of the case's plan; NotFound names a version that does not exist."""
    after = version_of(session, case_id, to_version)
    before = version_of(session, case_id, from_version) if from_version is not None else None
    return diff_plans(before, after)


def diffs_by_version(versions: list[PlanVersion]) -> dict[int, PlanDiff]:
    """Each version's diff from the one before it (versions oldest first, as `plan_versions` gives them)."""
    out: dict[int, PlanDiff] = {}
    previous: PlanVersion | None = None
    for version in versions:
        out[version.version] = diff_plans(previous, version)
        previous = version
    return out
