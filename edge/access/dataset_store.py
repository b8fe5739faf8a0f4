"""Where the edge keeps the access dataset: the last good version on disk, swapped whole.

``datasets/access.json`` in the data directory is written to a temporary file, fsynced and
renamed, so a power cut leaves the old or the new version, never half of one. A document is
checked by the decision's own reader (``CredentialStore.from_dataset``) before it is written:
a version the readers could not decide from never replaces the one in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from contract import jsoncodec
from edge.access.credentials import CredentialStore, DatasetError

log = structlog.get_logger("edge.access.dataset")

CACHE_NAME = "access.json"


class Loaded:
    """One accepted version: the document (for the controllers) and the credentials built
    from it (for the readers)."""

    def __init__(self, doc: Mapping[str, Any], credentials: CredentialStore) -> None:
        self.doc = doc
        self.credentials = credentials

    @property
    def version(self) -> int:
        return self.credentials.version


def parse(doc: Any) -> Loaded:
    """A usable document, or DatasetError naming the field."""
    if not isinstance(doc, dict):
        raise DatasetError("dataset", "must be a JSON object")
    return Loaded(doc, CredentialStore.from_dataset(doc))


class AccessStore:
    def __init__(self, data_dir: Path) -> None:
        self.cache = Path(data_dir) / "datasets" / CACHE_NAME

    async def load(self) -> Loaded | None:
        """The persisted version, or None (none yet, or unusable: logged)."""
        return await asyncio.to_thread(self._load_sync)

    def _load_sync(self) -> Loaded | None:
        if not self.cache.exists():
            return None
        try:
            loaded = parse(jsoncodec.loads(self.cache.read_bytes()))
        except (OSError, ValueError) as exc:  # DatasetError and JSON errors are ValueErrors
            log.error("access.dataset_unusable", file=str(self.cache), error=str(exc))
            return None
        log.info("access.dataset_loaded", source=str(self.cache), version=loaded.version)
        return loaded

    async def accept(self, doc: Any) -> Loaded:
        """Check a pulled document and persist it before anything uses it; DatasetError when
        it cannot be used (nothing written then)."""
        loaded = parse(doc)
        await asyncio.to_thread(write_atomic, self.cache, jsoncodec.dumpb(doc))
        return loaded


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable where we can
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
