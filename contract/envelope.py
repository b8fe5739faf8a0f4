"""The envelope every device event travels in (DESIGN §2), one event of a batch.

Wire form (JSON object; the batch around it is ``contract.batch``)::

    {"seq": 17, "id": "<uuid>", "ts": "2026-11-23T01:02:03.123456Z",
     "device": "m1", "kind": "meter.reading", "data": {...}, "priority": 2}

``wire_envelope`` is the one place that lays these keys out. The edge stores an event's
``data`` as JSON text once, when the outbox commits it, and sends that text as it is
(``data`` is a ``jsoncodec.Fragment``): no event is decoded and encoded again on its way out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from contract import jsoncodec
from contract.errors import ContractError
from contract.kinds import Priority, priority_for

_PRIORITIES = {int(p): p for p in Priority}

__all__ = ["ContractError", "Envelope", "NewEvent", "WireEnvelope", "format_ts", "parse_ts",
           "wire_envelope"]


class WireEnvelope(TypedDict):
    """An envelope ready for ``jsoncodec``: what ``encode_wire_batch`` takes."""

    seq: int
    id: str
    ts: str
    device: str
    kind: str
    data: jsoncodec.Fragment
    priority: int


def wire_envelope(seq: int, ident: str, ts: str, device: str, kind: str,
                  data_json: str | bytes, priority: int) -> WireEnvelope:
    """The envelope from its stored form: ``ts`` as ``format_ts`` wrote it, ``data`` as the
    JSON text ``jsoncodec`` wrote (trusted as it is: only our own encoder produces it)."""
    return {"seq": seq, "id": ident, "ts": ts, "device": device, "kind": kind,
            "data": jsoncodec.Fragment(data_json), "priority": priority}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event as a driver emits it, before the outbox gives it a seq."""

    device: str
    kind: str
    data: dict[str, Any]
    ts: datetime
    priority: Priority | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def effective_priority(self) -> Priority:
        return self.priority if self.priority is not None else priority_for(self.kind)


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event with the seq its outbox gave it: what a batch carries."""

    seq: int
    id: str
    ts: datetime
    device: str
    kind: str
    data: dict[str, Any]
    priority: Priority

    def wire(self) -> WireEnvelope:
        """This envelope as ``wire_envelope`` lays it out (``data`` encoded here)."""
        return wire_envelope(self.seq, self.id, format_ts(self.ts), self.device, self.kind,
                             jsoncodec.dumpb(self.data), int(self.priority))

    def to_dict(self) -> dict[str, Any]:
        """The decoded form (``data`` as a dict), e.g. to keep a rejected event as evidence."""
        return {
            "seq": self.seq,
            "id": self.id,
            "ts": format_ts(self.ts),
            "device": self.device,
            "kind": self.kind,
            "data": self.data,
            "priority": int(self.priority),
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "event") -> Envelope:
        if not isinstance(raw, dict):
            raise ContractError(where, "must be a JSON object")
        seq = raw.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ContractError(f"{where}.seq", "must be an integer ≥ 1")
        ident = raw.get("id")
        if not isinstance(ident, str) or not ident:
            raise ContractError(f"{where}.id", "must be a non-empty string (UUID)")
        device = raw.get("device")
        if not isinstance(device, str) or not device:
            raise ContractError(f"{where}.device", "must be a non-empty string")
        kind = raw.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ContractError(f"{where}.kind", "must be a non-empty string")
        data = raw.get("data", {})
        if not isinstance(data, dict):
            raise ContractError(f"{where}.data", "must be a JSON object")
        prio_raw = raw.get("priority")
        priority = (priority_for(kind) if prio_raw is None
                    else _PRIORITIES.get(prio_raw) if type(prio_raw) is int else None)
        if priority is None:
            raise ContractError(f"{where}.priority", f"unknown priority {prio_raw!r}")
        ts = parse_ts(raw.get("ts"), f"{where}.ts")
        return cls(seq=seq, id=ident, ts=ts, device=device, kind=kind, data=data,
                   priority=priority)


def format_ts(ts: datetime) -> str:
    """UTC with microseconds and a trailing ``Z``: the one spelling of time on the wire."""
    if ts.tzinfo is None:
        raise ContractError("ts", "must be timezone-aware")
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_ts(raw: Any, where: str = "ts") -> datetime:
    if not isinstance(raw, str):
        raise ContractError(where, "must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(where, f"not an ISO 8601 time: {raw[:40]!r}") from None
    if ts.tzinfo is None:
        raise ContractError(where, "must carry a UTC offset (e.g. trailing Z)")
    return ts.astimezone(UTC)
