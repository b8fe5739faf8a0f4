"""Who is inside each lot, durably: the edge's own record of parking sessions and payments.

The lanes decide from memory (a plate index per lot, so an OCR-confused exit read still finds
its entry); every change is written to SQLite (WAL, synchronous=FULL) on a dedicated thread
before the lane acts on it, and the memory is rebuilt from disk at start, so a restart or a
power cut keeps every car that is inside and every payment taken.

Order of writes against the outbox (what a crash between the two leaves behind):
- entry: the session is stored first, then ``parking.entry`` is emitted; a crash in between
  loses only the cloud's copy of the entry, and ``parking.exit`` carries the entry again;
- exit: ``parking.exit`` is emitted first, then the session is closed; a crash in between
  leaves the car "inside", and its next entry replaces that session as an anomaly — never a
  second charge, because the cloud keys charges by session id.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from contract import jsoncodec
from parkingrules.plates import Lookup, PlateIndex, Strictness

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id        TEXT PRIMARY KEY,
    lot       TEXT NOT NULL,
    plate     TEXT NOT NULL,
    category  TEXT NOT NULL,
    entry_ts  TEXT NOT NULL,
    entry_lane TEXT NOT NULL,
    detail    TEXT NOT NULL,
    paid      TEXT NOT NULL DEFAULT '0',
    paid_at   TEXT,
    closed_at TEXT,
    close_reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_inside ON sessions (lot) WHERE closed_at IS NULL;
CREATE TABLE IF NOT EXISTS payments (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    amount     TEXT NOT NULL,
    method     TEXT NOT NULL,
    operator   TEXT,
    at         TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    lot: str
    plate: str
    category: str  # owner | tenant | staff | pass | visitor | temporary
    entry_ts: datetime
    entry_lane: str
    detail: dict[str, Any]
    paid: Decimal = Decimal("0")
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    session_id: str
    amount: Decimal
    method: str
    operator: str | None
    at: datetime


class SessionStore:
    """Open sessions in memory per lot, every change on disk first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parking-db")
        self._db: sqlite3.Connection | None = None
        self._inside: dict[str, PlateIndex[Session]] = {}
        self._by_id: dict[str, Session] = {}
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> SessionStore:
        rows = await self._run(self._open_sync)
        for r in rows:
            s = _session(r)
            self._remember(s)
        return self

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.wait([self._flusher])
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def __aenter__(self) -> SessionStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _open_sync(self) -> list[tuple[Any, ...]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        self._db = db
        return db.execute(
            "SELECT id, lot, plate, category, entry_ts, entry_lane, detail, paid, paid_at"
            " FROM sessions WHERE closed_at IS NULL").fetchall()

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _write(self, fn: Write) -> None:
        """Run ``fn`` in a transaction; writes queued meanwhile share one (group commit: 20
        lanes deciding at once cost one fsync, not 20)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="parking-db-flush")
        await fut

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            errors: list[BaseException | None] = await self._run(self._apply, batch)
            for (_, fut), err in zip(batch, errors, strict=True):
                if fut.done():
                    continue
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    def _apply(self, batch: list[tuple[Write, asyncio.Future[None]]]) -> list[BaseException | None]:
        db = self._db
        assert db is not None, "SessionStore not opened"
        try:
            db.execute("BEGIN")
            for fn, _ in batch:
                fn(db)
            db.execute("COMMIT")
            return [None] * len(batch)
        except sqlite3.Error:
            db.execute("ROLLBACK")
        # One of them failed: apply each alone, so only the failing caller hears of it.
        out: list[BaseException | None] = []
        for fn, _ in batch:
            try:
                db.execute("BEGIN")
                fn(db)
                db.execute("COMMIT")
                out.append(None)
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                out.append(exc)
        return out

    # -- reads (memory) ---------------------------------------------------------------------

    def inside(self, lot: str) -> int:
        index = self._inside.get(lot)
        return len(index) if index is not None else 0

    def find(self, lot: str, plate: str, strictness: Strictness) -> Lookup[Session]:
        """The open session of a plate in a lot, with the plate matching rules of the lane."""
        index = self._inside.get(lot)
        if index is None:
            index = self._inside[lot] = PlateIndex()
        return index.lookup(plate, strictness)

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    # -- writes (disk first, then memory) ---------------------------------------------------

    async def start(self, lot: str, plate: str, category: str, entry_ts: datetime, lane: str,
                    detail: dict[str, Any]) -> tuple[Session, Session | None]:
        """Record an entry; returns it and the session it replaced (an "already inside" car)."""
        old = self.find(lot, plate, Strictness.EXACT).match
        replaced = old.value if old is not None else None
        s = Session(id=str(uuid.uuid4()), lot=lot, plate=plate, category=category,
                    entry_ts=entry_ts, entry_lane=lane, detail=detail)

        def write(db: sqlite3.Connection) -> None:
            if replaced is not None:
                db.execute("UPDATE sessions SET closed_at = ?, close_reason = ? WHERE id = ?",
                           (entry_ts.isoformat(), "replaced_by_entry", replaced.id))
            db.execute(
                "INSERT INTO sessions (id, lot, plate, category, entry_ts, entry_lane,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (s.id, lot, plate, category, entry_ts.isoformat(), lane,
                 jsoncodec.dumps(detail)))

        await self._write(write)
        if replaced is not None:
            self._forget(replaced)
        self._remember(s)
        return s, replaced

    async def pay(self, session_id: str, amount: Decimal, method: str, operator: str | None,
                  at: datetime) -> tuple[Session, Payment]:
        s = self._by_id.get(session_id)
        if s is None:
            raise KeyError(session_id)
        p = Payment(id=str(uuid.uuid4()), session_id=session_id, amount=amount, method=method,
                    operator=operator, at=at)
        total = s.paid + amount

        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO payments (id, session_id, amount, method, operator, at)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (p.id, session_id, str(amount), method, operator, at.isoformat()))
            db.execute("UPDATE sessions SET paid = ?, paid_at = ? WHERE id = ?",
                       (str(total), at.isoformat(), session_id))

        await self._write(write)
        updated = replace(s, paid=total, paid_at=at)
        self._forget(s)
        self._remember(updated)
        return updated, p

    async def finish(self, session_id: str, at: datetime, reason: str = "exit") -> None:
        s = self._by_id.get(session_id)
        await self._write(lambda db: db.execute(
            "UPDATE sessions SET closed_at = ?, close_reason = ?"
            " WHERE id = ? AND closed_at IS NULL",
            (at.isoformat(), reason, session_id)))
        if s is not None:
            self._forget(s)

    def _remember(self, s: Session) -> None:
        index = self._inside.get(s.lot)
        if index is None:
            index = self._inside[s.lot] = PlateIndex()
        index.add(s.plate, s)
        self._by_id[s.id] = s

    def _forget(self, s: Session) -> None:
        index = self._inside.get(s.lot)
        if index is not None and s.plate in index:
            index.remove(s.plate)
        self._by_id.pop(s.id, None)


Write = Callable[[sqlite3.Connection], Any]


def _session(r: tuple[Any, ...]) -> Session:
    return Session(id=r[0], lot=r[1], plate=r[2], category=r[3],
                   entry_ts=datetime.fromisoformat(r[4]), entry_lane=r[5],
                   detail=jsoncodec.loads(r[6]), paid=Decimal(r[7]),
                   paid_at=datetime.fromisoformat(r[8]) if r[8] else None)
