"""What an alarm keeps from the event that opened (or repeated) it: the fold key, the place,
and a small evidence subset a guard can act on.

Events are the edge drivers' data, versioned per kind; this reads them defensively (a field
of the wrong type is ignored, never an error), because an alarm must open even when an event
is thinner than expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

#: Longest fold/source key stored as is; longer ones are stored as a digest.
MAX_KEY = 200
#: Longest string kept in evidence (images travel as references, not inline base64).
MAX_EVIDENCE_TEXT = 500

#: Data fields copied into ``evidence`` when present: what the board shows next to the place.
EVIDENCE_FIELDS = (
    # what happened, in words (zh / en)
    "message", "description", "condition", "condition_name", "name", "name_zh", "name_en",
    # fire: the UITD, system and component
    "uitd", "scope", "system_type", "system_type_name", "system_address", "component_type",
    "component_type_name", "zone", "position", "component_address", "states", "test_mode",
    "event_time",
    # elevators, gates, doors, cameras
    "building", "floor", "area", "key", "code", "reason", "fault", "severity", "since",
    "door", "people", "in_door_zone", "mode", "direction", "gate", "lane", "command",
    "detail",
    # patrol: the plan, round and checkpoint, and the plan's own escalation window
    "plan", "round", "checkpoint", "guard", "tag", "deadline", "escalate_s",
    # snapshot references (never inline images)
    "snapshot", "snapshots", "snapshot_ref", "snapshot_url", "image_ref", "video_ref",
)

_Scalar = str | int | float | bool
PLACE_KEYS = ("building", "floor", "area")


def pick(data: Mapping[str, Any], spec: str) -> _Scalar | None:
    """The first present scalar among ``a|b``; ``x.y`` reads inside a nested object."""
    for path in spec.split("|"):
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            node = node.get("addr", node.get("id"))
        if isinstance(node, str | int | float | bool) and node != "":
            return node
    return None


def _key(parts: Sequence[Any]) -> str:
    text = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def source_key(device: str, data: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The thing in trouble: the device plus the named fields (a detector, an elevator)."""
    return _key([device, *(pick(data, f) for f in fields)])


def fold_key(kind: str, source: str, data: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The condition: kind, source and detail fields. Unique among a site's active alarms."""
    return _key([kind, source, *(pick(data, f) for f in fields)])


def condition(spec: str | None, data: Mapping[str, Any]) -> str | None:
    """The condition's name as restore events say it: a data field, or ``=literal``."""
    if not spec:
        return None
    if spec.startswith("="):
        return spec[1:] or None
    value = pick(data, spec)
    return str(value)[:64] if value is not None else None


def _text(raw: Any, limit: int = 200) -> str | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float | str):
        text = str(raw).strip()
        return text[:limit] or None
    return None


def _numbered(raw: Any, unit: str) -> str | None:
    """``5`` → ``5层``, ``2`` → ``2栋``; names (``B1``, ``1号楼``) stay as they are."""
    text = _text(raw, 32)
    if text is None:
        return None
    return f"{text}{unit}" if text.lstrip("-").isdigit() else text


def _place_value(raw: Any) -> str | int | float | None:
    return raw if isinstance(raw, str | int | float) and not isinstance(raw, bool) else None


def location(data: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(place as JSON or None, place as text). Fire events carry ``location`` and
    ``location_text``; elevators and the rest ``building`` / ``floor`` / ``area``. The JSON
    always has the three keys (None where unknown), plus any other scalar the event gave."""
    loc_raw = data.get("location")
    source: Mapping[str, Any] | None = None
    if isinstance(loc_raw, Mapping):
        source = loc_raw
    elif any(_place_value(data.get(k)) is not None for k in PLACE_KEYS):
        source = {k: data.get(k) for k in PLACE_KEYS}
    loc: dict[str, Any] | None = None
    if source is not None:
        loc = {k: _place_value(source.get(k)) for k in PLACE_KEYS}
        loc |= {str(k): v for k, v in source.items()
                if k not in loc and _place_value(v) is not None and len(str(v)) <= 200}
        if all(v is None for v in loc.values()):
            loc = None
    text = _text(data.get("location_text"))
    if text is None and loc:
        parts = [_numbered(loc.get("building"), "栋"), _numbered(loc.get("floor"), "层"),
                 _text(loc.get("area"))]
        text = " ".join(p for p in parts if p) or None
    return loc, (text or "")


def evidence(data: Mapping[str, Any]) -> dict[str, Any]:
    """The event fields a guard needs beside the place; long strings (inline images) are
    left out so the board's messages stay small."""
    out: dict[str, Any] = {}
    for name in EVIDENCE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, str) and len(value) > MAX_EVIDENCE_TEXT:
            continue
        try:
            size = len(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError):
            continue
        if size <= 4 * MAX_EVIDENCE_TEXT:
            out[name] = value
    return out

