"""The edge's health report on ``courtyard/v1/{site}/up/health`` (QoS 1, not retained).

Sent every 15 s while the edge is connected, and right after each (re)connect, so the console
knows what ``up/status`` cannot say: how far behind the site is (events still in the outbox
and the oldest one's age), which devices answer, which patrol receivers are heard::

    {"v": 1, "ts": "2026-12-07T08:00:00.000000Z",
     "outbox": {"depth": 12, "oldest_ts": "2026-12-07T07:59:41.000000Z",
                "oldest_age_s": 19.0, "by_priority": {"alarm": 0, "access": 2, "telemetry": 10}},
     "devices": {"meter": {"online": 40, "total": 42}, "elevator": {"online": 2, "total": 2}},
     "patrol_receivers": {"heard": 5, "total": 6},
     "uptime_s": 86400.0, "version": "1.4.0"}

``ts`` is the edge's clock; ``oldest_age_s`` is measured on it too (the console ages it by its
own clock only from the moment it receives the report). ``by_priority`` may be left out;
``patrol_receivers`` is null on a site without patrol receivers; a family the edge cannot
judge is left out of ``devices``. Keys a newer edge may add are ignored; everything named
here is checked, and a ``ContractError`` (a ``ValueError``) names the first wrong field.

``up/status`` stays the plain ``online``/``offline`` text: it is also the Last Will, a fixed
payload the broker publishes when the edge vanishes, so it can never carry numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NamedTuple

from contract import jsoncodec
from contract.envelope import format_ts, parse_ts
from contract.errors import ContractError

HEALTH_VERSION: Final = 1
#: Device families, as the console's device page names them.
FAMILIES: Final = ("meter", "camera", "gate", "access", "elevator", "fire", "other")
#: Outbox priorities a ``by_priority`` count may name.
PRIORITY_NAMES: Final = ("alarm", "access", "telemetry")
MAX_HEALTH_BYTES: Final = 16 * 1024
MAX_VERSION_LEN: Final = 64
#: Far above any real count: a larger one is a broken or hostile sender.
MAX_COUNT: Final = 1_000_000_000


class DeviceCount(NamedTuple):
    """Devices of one family: how many answer now, of how many configured."""

    online: int
    total: int


class ReceiverCount(NamedTuple):
    """Patrol receivers: how many were heard lately, of how many configured."""

    heard: int
    total: int


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """Events the edge holds that the console has not acknowledged yet."""

    depth: int
    oldest_ts: datetime | None = None
    oldest_age_s: float | None = None
    by_priority: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """One health report (``encode_health`` / ``decode_health``)."""

    ts: datetime
    outbox: OutboxHealth
    devices: dict[str, DeviceCount] = field(default_factory=dict)
    patrol_receivers: ReceiverCount | None = None
    uptime_s: float = 0.0
    version: str = ""


def encode_health(health: Health) -> bytes:
    """The report as sent; checked first, so an edge never sends what the console refuses."""
    box = health.outbox
    outbox: dict[str, Any] = {
        "depth": box.depth,
        "oldest_ts": None if box.oldest_ts is None else format_ts(box.oldest_ts),
        "oldest_age_s": box.oldest_age_s}
    if box.by_priority is not None:
        outbox["by_priority"] = dict(box.by_priority)
    receivers = health.patrol_receivers
    doc = {"v": HEALTH_VERSION, "ts": format_ts(health.ts), "outbox": outbox,
           "devices": {f: {"online": c.online, "total": c.total}
                       for f, c in health.devices.items()},
           "patrol_receivers": (None if receivers is None
                                else {"heard": receivers.heard, "total": receivers.total}),
           "uptime_s": health.uptime_s, "version": health.version}
    payload = jsoncodec.dumpb(doc)
    decode_health(payload)
    return payload


def decode_health(payload: bytes) -> Health:
    """Parse and check a report; ``ContractError`` (a ``ValueError``) names the wrong field."""
    if len(payload) > MAX_HEALTH_BYTES:
        raise ContractError("health", f"larger than {MAX_HEALTH_BYTES} bytes")
    try:
        doc = jsoncodec.loads(payload)
    except jsoncodec.JSONDecodeError:
        raise ContractError("health", "not JSON") from None
    if not isinstance(doc, dict):
        raise ContractError("health", "must be a JSON object")
    v = doc.get("v")
    if type(v) is not int or v != HEALTH_VERSION:
        raise ContractError("v", f"must be {HEALTH_VERSION}")
    ts = parse_ts(doc.get("ts"), "ts")
    version = doc.get("version")
    if not isinstance(version, str) or not version or len(version) > MAX_VERSION_LEN:
        raise ContractError("version", f"must be a non-empty string of at most "
                                       f"{MAX_VERSION_LEN} characters")
    return Health(ts=ts, outbox=_outbox(doc.get("outbox")), devices=_devices(doc.get("devices")),
                  patrol_receivers=_receivers(doc.get("patrol_receivers")),
                  uptime_s=_seconds(doc.get("uptime_s"), "uptime_s"), version=version)


def _count(raw: object, where: str) -> int:
    if type(raw) is not int or not 0 <= raw <= MAX_COUNT:
        raise ContractError(where, f"must be an integer from 0 to {MAX_COUNT}")
    return raw


def _seconds(raw: object, where: str) -> float:
    if (not isinstance(raw, int | float) or isinstance(raw, bool) or not math.isfinite(raw)
            or raw < 0):
        raise ContractError(where, "must be a number of seconds ≥ 0")
    return float(raw)


def _object(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ContractError(where, "must be a JSON object")
    return raw


def _outbox(raw: object) -> OutboxHealth:
    box = _object(raw, "outbox")
    depth = _count(box.get("depth"), "outbox.depth")
    oldest_raw, age_raw = box.get("oldest_ts"), box.get("oldest_age_s")
    if (oldest_raw is None) != (age_raw is None):
        raise ContractError("outbox.oldest_age_s" if age_raw is None else "outbox.oldest_ts",
                            "oldest_ts and oldest_age_s are both null or both set")
    if depth == 0 and oldest_raw is not None:
        raise ContractError("outbox.oldest_ts", "must be null when the outbox is empty")
    oldest = None if oldest_raw is None else parse_ts(oldest_raw, "outbox.oldest_ts")
    age = None if age_raw is None else _seconds(age_raw, "outbox.oldest_age_s")
    by_priority: dict[str, int] | None = None
    if box.get("by_priority") is not None:
        prios = _object(box["by_priority"], "outbox.by_priority")
        by_priority = {}
        for name, n in prios.items():
            if name not in PRIORITY_NAMES:
                raise ContractError(f"outbox.by_priority.{name[:32]}",
                                    f"unknown priority (one of {', '.join(PRIORITY_NAMES)})")
            by_priority[name] = _count(n, f"outbox.by_priority.{name}")
    return OutboxHealth(depth=depth, oldest_ts=oldest, oldest_age_s=age, by_priority=by_priority)


def _devices(raw: object) -> dict[str, DeviceCount]:
    out: dict[str, DeviceCount] = {}
    for family, counts in _object(raw, "devices").items():
        if family not in FAMILIES:
            raise ContractError(f"devices.{family[:32]}",
                                f"unknown family (one of {', '.join(FAMILIES)})")
        c = _object(counts, f"devices.{family}")
        online = _count(c.get("online"), f"devices.{family}.online")
        total = _count(c.get("total"), f"devices.{family}.total")
        if online > total:
            raise ContractError(f"devices.{family}.online", "more online than total")
        out[family] = DeviceCount(online, total)
    return out


def _receivers(raw: object) -> ReceiverCount | None:
    if raw is None:
        return None
    c = _object(raw, "patrol_receivers")
    heard = _count(c.get("heard"), "patrol_receivers.heard")
    total = _count(c.get("total"), "patrol_receivers.total")
    if heard > total:
        raise ContractError("patrol_receivers.heard", "more heard than total")
    return ReceiverCount(heard, total)
