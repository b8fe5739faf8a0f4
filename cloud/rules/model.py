"""The rule model: an event kind plus conditions leads to one action.

Frozen dataclasses, so a loaded rule set can be shared by the ingest path and the API without
copies, and swapped whole when a new file passes the check (the last good rules stay in force).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Work-order priorities, most pressing first.
PRIORITIES = ("urgent", "high", "normal", "low")

#: The event families the drivers emit; a rule's kind pattern must fall in one of them.
KNOWN_FAMILIES = ("device.", "meter.", "fire.", "uitd.", "elevator.", "gate.", "camera.",
                  "parking.", "plate.", "payment.", "buffer.", "door.", "access.", "linkage.",
                  "patrol.", "reader.", "controller.")


def kind_matches(pattern: str, kind: str) -> bool:
    """``fire.*`` matches every kind of the fire family; anything else must be equal."""
    if pattern.endswith(".*"):
        return kind.startswith(pattern[:-1])
    return kind == pattern


@dataclass(frozen=True, slots=True)
class Repeat:
    """Act only from the ``count``-th matching event within ``within_s`` seconds."""

    count: int
    within_s: float


@dataclass(frozen=True, slots=True)
class Conditions:
    """Filters on the event; an empty tuple means "any"."""

    device_types: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    repeat: Repeat | None = None
    #: Only for ``device.offline``: act if the device is still offline this long after.
    offline_for_s: float | None = None


@dataclass(frozen=True, slots=True)
class OpenWorkOrder:
    category: str
    priority: str
    sla_response_s: float
    sla_resolve_s: float
    skill: str
    title_zh: str
    title_en: str


@dataclass(frozen=True, slots=True)
class OpenAlarm:
    severity: str


@dataclass(frozen=True, slots=True)
class Nothing:
    """An explicit "no action", so a kind is visibly decided rather than forgotten."""

    reason: str


Action = OpenWorkOrder | OpenAlarm | Nothing


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    on: tuple[str, ...]
    when: Conditions
    then: Action
    enabled: bool = True

    def covers(self, kind: str) -> bool:
        return any(kind_matches(p, kind) for p in self.on)


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules in evaluation order (file order; files in name order) and the known categories."""

    rules: tuple[Rule, ...] = ()
    categories: tuple[Category, ...] = field(default=())

    def category(self, cid: str) -> Category | None:
        return next((c for c in self.categories if c.id == cid), None)

    def for_kind(self, kind: str) -> list[Rule]:
        return [r for r in self.rules if r.enabled and r.covers(kind)]
