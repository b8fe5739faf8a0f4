"""Visitor passes at the door, checked offline: the signed token a QR reader scans, or the
9-digit code a QR reader set to Wiegand output sends as a card number.

**The token** (``contract.visitor_pass``) is verified with the site secret the edge already
holds (its MQTT password, ``cloud.password``): signature, site, window; then the door, the
dataset's revoked list, and the uses left. A pass issued after the last dataset the edge got
still works: everything it needs is in the token. **The code** is looked up in the dataset's
``passes`` (a 32-bit number carries no signature): window, door, revoked list, uses left.

**Uses** are counted per pass id, shared by both forms, in ``passes.db`` beside
``passback.db``: in memory at once (the next scan sees it), on disk behind the relay on one
writer thread with ``synchronous=FULL``, so the count survives a restart or a power cut once
written (a cut within milliseconds of a grant may lose that one use).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from contract.visitor_pass import PassRefused, verify
from edge.access.credentials import CredentialStore

PASSES_FILE = "passes.db"
HOLDER_PREFIX = "visitor-"
_SCHEMA = """CREATE TABLE IF NOT EXISTS pass_uses (
    pass_id INTEGER PRIMARY KEY, used INTEGER NOT NULL, last_at TEXT NOT NULL)"""


class UseCounter(Protocol):
    def used(self, pass_id: int) -> int: ...

    def count(self, pass_id: int, at: datetime) -> None: ...


class MemoryUses:
    """Uses kept in memory only (tests, and an edge without a data directory)."""

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self._counts = dict(counts or {})

    def used(self, pass_id: int) -> int:
        return self._counts.get(pass_id, 0)

    def count(self, pass_id: int, at: datetime) -> None:
        self._counts[pass_id] = self._counts.get(pass_id, 0) + 1


class PassUses(MemoryUses):
    """Uses per pass in SQLite, written on its own thread in order."""

    def __init__(self, path: Path, counts: dict[int, int], pool: ThreadPoolExecutor,
                 db: sqlite3.Connection) -> None:
        super().__init__(counts)
        self.path = path
        self._pool, self._db = pool, db

    @classmethod
    async def open(cls, path: Path) -> PassUses:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pass-uses")

        def _open() -> tuple[sqlite3.Connection, dict[int, int]]:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
            return db, {int(i): int(n) for i, n in db.execute(
                "SELECT pass_id, used FROM pass_uses")}

        db, counts = await asyncio.get_running_loop().run_in_executor(pool, _open)
        return cls(path, counts, pool, db)

    def count(self, pass_id: int, at: datetime) -> None:
        super().count(pass_id, at)
        self._pool.submit(self._write, pass_id, at.isoformat())

    def _write(self, pass_id: int, at: str) -> None:
        self._db.execute("INSERT INTO pass_uses VALUES (?, 1, ?) ON CONFLICT (pass_id) DO "
                         "UPDATE SET used = used + 1, last_at = excluded.last_at",
                         (pass_id, at))

    async def flush(self) -> None:
        """Wait until every use counted so far is on disk."""
        await asyncio.get_running_loop().run_in_executor(self._pool, lambda: None)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._db.close)
        self._pool.shutdown(wait=True)


@dataclass(frozen=True, slots=True)
class PassVerdict:
    """A pass's answer at one door: ``reason`` None is a grant; ``pass_id`` when known."""

    reason: str | None
    pass_id: int | None = None

    @property
    def holder(self) -> str | None:
        return f"{HOLDER_PREFIX}{self.pass_id}" if self.pass_id is not None else None


class PassGate:
    """The checks for one site: its slug and secret, and where uses are counted."""

    def __init__(self, site: str, secret: str | None, uses: UseCounter) -> None:
        self.site, self._secret, self.uses = site, secret or "", uses

    def token(self, text: str, door: str, store: CredentialStore,
              now: datetime) -> PassVerdict:
        try:
            claims = verify(self._secret, text, self.site, int(now.timestamp()))
        except PassRefused as refused:
            return PassVerdict(f"pass_{refused.reason}")
        return self._rest(claims.id, claims.opens(door), claims.uses, store)

    def code(self, code: str, door: str, store: CredentialStore,
             now: datetime) -> PassVerdict | None:
        """None when no live pass has this code (then it is just an unknown card)."""
        permit = store.visitor_pass(code)
        if permit is None:
            return None
        if now < permit.valid_from:
            return PassVerdict("pass_not_yet_valid", permit.id)
        if now >= permit.valid_to:
            return PassVerdict("pass_expired", permit.id)
        return self._rest(permit.id, permit.opens(door), permit.uses, store)

    def _rest(self, pass_id: int, opens: bool, uses: int,
              store: CredentialStore) -> PassVerdict:
        if store.pass_revoked(pass_id):
            return PassVerdict("pass_revoked", pass_id)
        if not opens:
            return PassVerdict("pass_no_permission", pass_id)
        if self.uses.used(pass_id) >= uses:
            return PassVerdict("pass_used_up", pass_id)
        return PassVerdict(None, pass_id)

    def granted(self, verdict: PassVerdict, now: datetime) -> None:
        """Count one use of a granted pass."""
        if verdict.reason is None and verdict.pass_id is not None:
            self.uses.count(verdict.pass_id, now)
