"""The JSON fields both receiver formats share, read strictly: a receiver that sends a string
where a number belongs is counted as malformed, not guessed at."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from drivers.ble.model import BadAdvert


def load_object(payload: bytes) -> dict[str, Any]:
    """The payload as a JSON object; BadAdvert("bad_json") otherwise."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadAdvert("bad_json", f"not JSON: {payload[:60]!r}") from None
    if not isinstance(doc, dict):
        raise BadAdvert("bad_json", f"JSON {type(doc).__name__}, not an object")
    return doc


def read_rssi(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadAdvert("bad_rssi", f"rssi {value!r}")
    rssi = round(value)
    if not -127 <= rssi <= 20:
        raise BadAdvert("bad_rssi", f"rssi {value!r} dBm out of range")
    return rssi


def optional_int(doc: Mapping[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadAdvert("bad_field", f"{name} {value!r}")
    return round(value)
