"""The JSON codec of the event path (outbox rows, batches, acks, stored event data).

orjson, because encoding and decoding every event is most of the CPU an edge and the ingest
spend per event (about 15× faster encoding and 2× faster decoding than the standard library
here). Its output is compact, UTF-8 (no ``\\u`` escapes but the control characters JSON
requires), and the same on both sides of the link.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
"""Raised by ``loads``; a subclass of ``json.JSONDecodeError`` and ``ValueError``."""

_OPTS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any) -> str:
    """Compact JSON text; non-string keys become strings (as ``json.dumps`` does)."""
    return orjson.dumps(obj, option=_OPTS).decode()


def dumpb(obj: Any) -> bytes:
    """``dumps`` as UTF-8 bytes, for payloads."""
    return orjson.dumps(obj, option=_OPTS)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; NaN, Infinity and integers beyond 64 bits are refused (``JSONDecodeError``)."""
    return orjson.loads(data)


Fragment = orjson.Fragment
"""JSON text already encoded by ``dumps``/``dumpb``, embedded by them verbatim (not re-checked)."""
