"""The active incident, in memory and in a JSON file that survives a restart mid-fire.

The file is written whole to a temporary file, fsynced and renamed over the old one, so a
power cut leaves the previous or the new state, never half of one. After a restart the edge
reads it back, holds the gates open again and keeps the incident until a guard resets it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import jsoncodec

STATE_VERSION = 1
MAX_CAUSES = 50
"""Causes kept per incident (every detector of a big fire); the count goes on past it."""

ActionKey = tuple[str, str]
#: Action states besides the results: planned but not started, being carried out.
PENDING, RUNNING = "pending", "running"


@dataclass(slots=True)
class ActionRecord:
    """One action of an incident and its latest outcome."""

    action: str
    target: str
    building: str | None
    rule: str
    cause_event: str
    cause_kind: str
    state: str = PENDING
    detail: str = ""
    attempts: int = 0
    ms: int = 0
    updated: str | None = None

    @property
    def key(self) -> ActionKey:
        return (self.action, self.target)

    @property
    def settled(self) -> bool:
        return self.state not in (PENDING, RUNNING)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "building": self.building,
                "rule": self.rule, "cause_event": self.cause_event,
                "cause_kind": self.cause_kind, "state": self.state, "detail": self.detail,
                "attempts": self.attempts, "ms": self.ms, "updated": self.updated}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ActionRecord:
        return cls(action=str(raw["action"]), target=str(raw["target"]),
                   building=None if raw.get("building") is None else str(raw["building"]),
                   rule=str(raw.get("rule", "")), cause_event=str(raw.get("cause_event", "")),
                   cause_kind=str(raw.get("cause_kind", "")),
                   state=str(raw.get("state", PENDING)), detail=str(raw.get("detail", "")),
                   attempts=int(raw.get("attempts", 0)), ms=int(raw.get("ms", 0)),
                   updated=raw.get("updated"))


@dataclass(slots=True)
class Incident:
    """A fire linkage from its first alarm until a guard resets it.

    ``buildings`` holds the building keys seen so far (``"*"`` for an unknown location);
    ``inflight`` (not persisted) is set per action while it is being carried out.
    """

    id: str
    started: str
    rule: str
    rules: list[str] = field(default_factory=list)
    buildings: list[str] = field(default_factory=list)
    causes: list[dict[str, Any]] = field(default_factory=list)
    cause_count: int = 0
    actions: dict[ActionKey, ActionRecord] = field(default_factory=dict)
    restored: bool = False
    inflight: dict[ActionKey, asyncio.Event] = field(default_factory=dict)

    def add_cause(self, cause: dict[str, Any]) -> None:
        self.cause_count += 1
        if len(self.causes) < MAX_CAUSES:
            self.causes.append(cause)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started": self.started, "rule": self.rule,
                "rules": list(self.rules), "buildings": list(self.buildings),
                "causes": list(self.causes), "cause_count": self.cause_count,
                "actions": [a.to_dict() for a in self.actions.values()]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Incident:
        actions = [ActionRecord.from_dict(a) for a in raw.get("actions", [])]
        causes = [c for c in raw.get("causes", []) if isinstance(c, dict)]
        return cls(id=str(raw["id"]), started=str(raw["started"]), rule=str(raw["rule"]),
                   rules=[str(r) for r in raw.get("rules", [])],
                   buildings=[str(b) for b in raw.get("buildings", [])],
                   causes=causes, cause_count=int(raw.get("cause_count", len(causes))),
                   actions={a.key: a for a in actions}, restored=True)


def dump(site: str, incident: Incident | None) -> dict[str, Any]:
    return {"v": STATE_VERSION, "site": site,
            "incident": None if incident is None else incident.to_dict()}


def load(doc: Any) -> Incident | None:
    """The incident of a state document; ValueError when the document is not one of ours."""
    if not isinstance(doc, dict) or doc.get("v") != STATE_VERSION:
        raise ValueError("not a linkage state document (v1)")
    raw = doc.get("incident")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("incident must be an object")
    try:
        return Incident.from_dict(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"incident unreadable: {exc!r}") from exc


def write_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Blocking: run it in a thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(jsoncodec.dumpb(doc))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> Any:
    """Blocking: the parsed file, or None when there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return jsoncodec.loads(data)
