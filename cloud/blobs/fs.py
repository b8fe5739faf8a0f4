"""The filesystem blob store (the default): ``<root>/<hex[0:2]>/<hex[2:4]>/<hex>``.

Two levels of 256 folders keep any one folder small after years of plate images. A write goes
to a temporary file in the target folder, is fsynced, then renamed over the final name and
the folder fsynced: a crash leaves either the whole blob or none (a stray ``.tmp-*`` at most),
never a truncated image under a valid ref. Writing the same bytes again finds the file and
does nothing. All file work runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cloud.blobs.store import PREFIX, parse_ref


class FsBlobStore:
    """A ``BlobStore`` in a folder (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FsBlobStore({str(self.root)!r})"

    def path(self, ref: str) -> Path:
        """Where ``ref`` lives (``BadRef`` for anything that is not a ref)."""
        digest = parse_ref(ref)
        return self.root / digest[0:2] / digest[2:4] / digest

    async def put(self, data: bytes, *, content_type: str) -> str:
        return await asyncio.to_thread(self._put, data)

    async def get(self, ref: str) -> bytes | None:
        path = self.path(ref)
        return await asyncio.to_thread(_read, path)

    async def delete(self, ref: str) -> bool:
        path = self.path(ref)
        return await asyncio.to_thread(_unlink, path)

    async def exists(self, ref: str) -> bool:
        path = self.path(ref)
        return await asyncio.to_thread(path.is_file)

    def _put(self, data: bytes) -> str:
        ref = PREFIX + hashlib.sha256(data).hexdigest()
        final = self.path(ref)
        if final.is_file() and final.stat().st_size == len(data):
            return ref  # content-addressed: the same bytes are already there
        folder = final.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)
        return ref


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (the new directory entry), where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
