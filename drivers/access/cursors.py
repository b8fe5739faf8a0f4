"""The last event index read from each controller, kept on disk across edge restarts.

Catch-up reads every index after this one: the driver saves an index only once its event is
stored by the outbox, so a crash between the two re-reads one event (same id: the outbox and
the cloud see a repeat, not a new event) and never skips one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol


class Cursors(Protocol):
    def get(self, serial: int) -> int | None:
        """The last index read, or None for a controller never read."""
        ...

    def put(self, serial: int, index: int) -> None: ...


class MemoryCursors:
    def __init__(self) -> None:
        self.values: dict[int, int] = {}

    def get(self, serial: int) -> int | None:
        return self.values.get(serial)

    def put(self, serial: int, index: int) -> None:
        self.values[serial] = index


class FileCursors:
    """JSON ``{serial: index}``, replaced atomically (write, fsync, rename) on every put."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.values: dict[int, int] = {}
        if self.path.exists():
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.values = {int(k): int(v) for k, v in raw.items()}

    def get(self, serial: int) -> int | None:
        return self.values.get(serial)

    def put(self, serial: int, index: int) -> None:
        self.values[serial] = index
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({str(k): v for k, v in self.values.items()}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
