"""The envelope every device event travels in, and the batch and ack payloads around it.

Wire format (JSON, UTF-8; a batch may be gzip-compressed, recognised by its magic bytes)::

    batch: {"v": 1, "site": "demo", "events": [<envelope>...], "gaps": [[from, to], ...]}
    envelope: {"seq": 17, "id": "<uuid>", "ts": "2026-11-23T01:02:03.123456Z",
               "device": "m1", "kind": "meter.reading", "data": {...}, "priority": 2}
    ack: {"upto": 17}

``gaps`` lists inclusive seq ranges the edge dropped under its disk budget (DESIGN §2 rule 4)
and will never send, so the cloud can advance its contiguous ack watermark past them.
"""

from __future__ import annotations

import gzip
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract import jsoncodec
from contract.kinds import Priority, priority_for

ENVELOPE_VERSION = 1
_GZIP_MAGIC = b"\x1f\x8b"
_PRIORITIES = {int(p): p for p in Priority}
MAX_BATCH_BYTES = 8 * 1024 * 1024
GZIP_LEVEL = 3
"""Level 3 compresses event batches within a few per cent of level 6 at a third of the CPU."""


class ContractError(ValueError):
    """A payload that does not follow the contract; ``field`` names what is wrong."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


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
    seq: int
    id: str
    ts: datetime
    device: str
    kind: str
    data: dict[str, Any]
    priority: Priority

    def to_dict(self) -> dict[str, Any]:
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


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    events: list[Envelope]
    gaps: list[tuple[int, int]] = field(default_factory=list)


def format_ts(ts: datetime) -> str:
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


def encode_batch(batch: Batch, compress: bool = False) -> bytes:
    body = jsoncodec.dumpb({
        "v": ENVELOPE_VERSION,
        "site": batch.site,
        "events": [e.to_dict() for e in batch.events],
        "gaps": [list(g) for g in batch.gaps],
    })
    return gzip.compress(body, compresslevel=GZIP_LEVEL) if compress else body


@dataclass(frozen=True, slots=True)
class Rejected:
    """One event of a batch that breaks the contract while the batch around it does not."""

    seq: int
    field: str
    reason: str
    #: The event as received (a JSON object).
    raw: dict[str, Any]


def decode_batch(payload: bytes) -> Batch:
    """Parse a batch; raise ContractError naming the offending field."""
    batch, rejected = decode_batch_lenient(payload)
    if rejected:
        r = rejected[0]
        raise ContractError(r.field, r.reason)
    return batch


def decode_batch_lenient(payload: bytes) -> tuple[Batch, list[Rejected]]:
    """Parse a batch, setting aside each event that breaks the contract but has a valid
    ``seq`` (so the receiver can account for that seq); anything else wrong raises
    ContractError naming the offending field."""
    if payload[:2] == _GZIP_MAGIC:
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise ContractError("payload", f"corrupt gzip: {exc}") from None
    if len(payload) > MAX_BATCH_BYTES:
        raise ContractError("payload", f"larger than {MAX_BATCH_BYTES} bytes")
    try:
        raw = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError as exc:
        raise ContractError("payload", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError("payload", "must be a JSON object")
    if raw.get("v") != ENVELOPE_VERSION:
        raise ContractError("v", f"unsupported version {raw.get('v')!r}")
    site = raw.get("site")
    if not isinstance(site, str) or not site:
        raise ContractError("site", "must be a non-empty string")
    events_raw = raw.get("events")
    if not isinstance(events_raw, list):
        raise ContractError("events", "must be a list")
    events: list[Envelope] = []
    rejected: list[Rejected] = []
    from_dict = Envelope.from_dict
    for i, e in enumerate(events_raw):
        try:
            events.append(from_dict(e))
        except ContractError as exc:
            # Named by position only on the (rare) error path: no string per good event.
            where = f"events[{i}]" + exc.field.removeprefix("event")
            seq = e.get("seq") if isinstance(e, dict) else None
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ContractError(where, exc.reason) from None
            rejected.append(Rejected(seq, where, exc.reason, e))
    gaps: list[tuple[int, int]] = []
    for i, g in enumerate(raw.get("gaps", [])):
        if (not isinstance(g, list) or len(g) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in g)
                or not 1 <= g[0] <= g[1]):
            raise ContractError(f"gaps[{i}]", "must be [from, to] with 1 ≤ from ≤ to")
        gaps.append((g[0], g[1]))
    return Batch(site=site, events=events, gaps=gaps), rejected


def encode_ack(upto: int) -> bytes:
    return jsoncodec.dumpb({"upto": upto})


def decode_ack(payload: bytes) -> int:
    try:
        raw = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError as exc:
        raise ContractError("payload", f"not JSON: {exc}") from None
    upto = raw.get("upto") if isinstance(raw, dict) else None
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise ContractError("upto", "must be an integer ≥ 0")
    return upto
