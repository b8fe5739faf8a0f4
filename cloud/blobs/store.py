"""What a blob store is: bytes in, a content-derived ref out, and nothing else.

A ref is ``sha256:<64 lowercase hex>`` of the bytes, so the same image stored twice (a batch
the edge delivers again) is one blob, and a ref can be checked without touching the store.
Refs come back from the database and, through it, from event data an edge sent: every store
takes them through ``parse_ref`` first, so a crafted ref (``sha256:../../etc``) never becomes
a path or a key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol, runtime_checkable

PREFIX = "sha256:"
_REF = re.compile(r"sha256:([0-9a-f]{64})")
#: Longest ref: ``sha256:`` and 64 hex digits (the ``blobs.ref`` column's width).
REF_LEN = len(PREFIX) + 64


class BadRef(ValueError):
    """Not a ref this store could have made."""


def parse_ref(ref: object) -> str:
    """The ref's hex digest; ``BadRef`` for anything but ``sha256:`` and 64 lowercase hex."""
    m = _REF.fullmatch(ref) if isinstance(ref, str) else None
    if m is None:
        shown = ref[:80] if isinstance(ref, str) else type(ref).__name__
        raise BadRef(f"not a blob ref: {shown!r}")
    return m.group(1)


def is_ref(ref: object) -> bool:
    try:
        parse_ref(ref)
    except BadRef:
        return False
    return True


def ref_of(data: bytes) -> str:
    """The ref ``data`` is stored under."""
    return PREFIX + hashlib.sha256(data).hexdigest()


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed bytes. ``put`` is idempotent; every method refuses a bad ref with
    ``BadRef`` before it reaches storage."""

    async def put(self, data: bytes, *, content_type: str) -> str:
        """Store ``data`` (durably, once ``put`` returns); its ref."""
        ...

    async def get(self, ref: str) -> bytes | None:
        """The bytes, or None when nothing is stored under ``ref``."""
        ...

    async def delete(self, ref: str) -> bool:
        """Remove the blob; whether there was one."""
        ...

    async def exists(self, ref: str) -> bool:
        ...
