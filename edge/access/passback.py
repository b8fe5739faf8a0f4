"""Anti-passback state that survives a restart: who is in which area, in SQLite.

The decision itself stays in memory (``Decider``: no I/O between card and relay); each grant
that moves a holder is written behind it on one writer thread, in order, so the relay never
waits on the disk. Each move is committed with ``synchronous=FULL`` so it survives a power
cut, not only a crash. ``PersistentDecider`` starts from what was written, so a restarted edge
still refuses a card passed back through the fence.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from drivers.access.osdp_model import ReaderInput
from edge.access.credentials import CredentialStore
from edge.access.decide import AccessPoint, Decider, Decision
from edge.access.visitor_passes import PassGate

PASSBACK_FILE = "passback.db"
_SCHEMA = """CREATE TABLE IF NOT EXISTS whereabouts (
    area TEXT NOT NULL, holder TEXT NOT NULL, direction TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (area, holder))"""


class PassbackStore:
    """(area, holder) → "in" | "out", written on its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="passback")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> tuple[PassbackStore, dict[tuple[str, str], str]]:
        """The store and what it holds (opened on its writer thread)."""
        store = cls(path)
        rows = await asyncio.get_running_loop().run_in_executor(store._pool, store._open)
        return store, rows

    def _open(self) -> dict[tuple[str, str], str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: each move is on disk when its commit returns; NORMAL (in WAL mode) may lose
        # the last moves on a power cut, and the edge would then let a card pass back.
        db.execute("PRAGMA synchronous=FULL")
        db.execute(_SCHEMA)
        self._db = db
        return {(a, h): d for a, h, d in db.execute(
            "SELECT area, holder, direction FROM whereabouts")}

    def record(self, area: str, holder: str, direction: str, at: datetime) -> Future[None]:
        """Queue one move; returns at once (the future is done once the move is on disk)."""
        return self._pool.submit(self._write, area, holder, direction, at.isoformat())

    async def durability(self) -> tuple[str, int]:
        """The connection's journal mode and ``synchronous`` level (2 = FULL)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._durability)

    def _durability(self) -> tuple[str, int]:
        assert self._db is not None
        (mode,) = self._db.execute("PRAGMA journal_mode").fetchone()
        (level,) = self._db.execute("PRAGMA synchronous").fetchone()
        return str(mode), int(level)

    def _write(self, area: str, holder: str, direction: str, at: str) -> None:
        assert self._db is not None
        self._db.execute("INSERT INTO whereabouts VALUES (?, ?, ?, ?) ON CONFLICT (area, holder)"
                         " DO UPDATE SET direction = excluded.direction, at = excluded.at",
                         (area, holder, direction, at))

    async def aclose(self) -> None:
        """Write what is queued, then close."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self._close)
        self._pool.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class PersistentDecider(Decider):
    """A ``Decider`` whose anti-passback state is loaded from and written to a store."""

    def __init__(self, store: CredentialStore, points: list[AccessPoint], timezone: str,
                 passback: PassbackStore, where: dict[tuple[str, str], str],
                 passes: PassGate | None = None) -> None:
        super().__init__(store, points, timezone, passes)
        self._passback = passback
        self._where.update(where)

    def decide(self, read: ReaderInput, now: datetime) -> Decision:
        decision = super().decide(read, now)
        p = self.point(read.reader)
        if decision.granted and p is not None and p.area and decision.holder:
            self._passback.record(p.area, decision.holder, p.direction or "in", now)
        return decision
