"""The durable outbox: every event is on disk, with its seq, before anything goes upstream.

Why it looks like this (DESIGN §2):

* SQLite in WAL mode with ``synchronous=FULL``: a committed ``append`` survives ``kill -9`` and
  power loss, and one batch costs one fsync, so callers batch.
* ``seq`` comes from a high-water mark in ``meta``, not from SQLite's rowid, so it is never
  reused after deletes or restarts. The file also holds its ``epoch``, random and made when the
  file is made: the cloud keys events by ``(site, epoch, seq)``, so a replaced box or a wiped
  data dir (seq back at 1) is a new epoch, never a run of "duplicates" of the old box's seqs.
  A file from before epochs gets one when opened, and declares the seqs it already had acked
  (``[1, acked]``) as a gap, so the new epoch's mark can start past them.
* Only an ack deletes, only an ack naming this file's epoch, and only what it covers. The
  budget is the one exception: past it, the oldest telemetry goes (never alarms or access
  events), the dropped seq ranges are kept so the uplink can announce them as ``gaps``, and a
  ``buffer.dropped`` event records the loss in the same transaction.

Blocking by design: ``edge.outbox.runner.AsyncOutbox`` runs it on one dedicated thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from contract import Clock, Kind, NewEvent, Priority, SystemClock, jsoncodec, new_epoch
from contract.envelope import Envelope, WireEnvelope, format_ts, parse_ts, wire_envelope

log = structlog.get_logger("edge.outbox")

ROW_OVERHEAD = 48
"""Bytes counted per row besides its text: seq, priority, timestamps, index entries."""

DROP_TO = 0.9
"""Past the budget, drop down to this fraction of it, so one drop covers many appends."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL,
    ts       TEXT    NOT NULL,
    device   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    priority INTEGER NOT NULL,
    data     TEXT    NOT NULL,
    stored   REAL    NOT NULL,
    size     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_priority ON events (priority, seq);
CREATE TABLE IF NOT EXISTS dropped (lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES
    ('high_water', 0), ('acked', 0), ('bytes', 0), ('dropped_total', 0);
CREATE TABLE IF NOT EXISTS ident (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class OutboxError(RuntimeError):
    """The outbox cannot store or read events (disk, corruption); the caller must not drop them."""


def runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Collapse sorted seqs into inclusive ``[lo, hi]`` runs of consecutive integers."""
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


class Outbox:
    """One site's outbox file. Not thread-safe: use it from one thread only."""

    def __init__(self, path: Path | str, budget_bytes: int | None = None,
                 clock: Clock | None = None, source: str = "edge") -> None:
        if budget_bytes is not None and budget_bytes <= 0:
            raise ValueError("budget_bytes must be > 0")
        self.path = Path(path)
        self.budget_bytes = budget_bytes
        self.source = source
        self._clock: Clock = clock or SystemClock()
        self._log = log.bind(outbox=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self.epoch = self._load_epoch()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        #: Acks naming another epoch, ignored since open (a forged or stale ack).
        self.foreign_acks = 0
        self._log = self._log.bind(epoch=self.epoch)

    def _load_epoch(self) -> str:
        """This file's epoch; made (in one transaction) when the file has none yet."""
        with self._transaction():
            row = self._db.execute("SELECT value FROM ident WHERE key = 'epoch'").fetchone()
            if row is not None:
                return str(row[0])
            epoch = new_epoch()
            self._db.execute("INSERT INTO ident (key, value) VALUES ('epoch', ?)", (epoch,))
            acked = self._meta("acked")
            if acked > 0:  # a file from before epochs: its acked seqs are not in this epoch
                self._db.execute("INSERT INTO dropped (lo, hi) VALUES (1, ?)", (acked,))
            return epoch  # the uplink logs it (bound to every line it writes)

    # -- writing ---------------------------------------------------------------------------

    def append(self, events: Iterable[NewEvent]) -> list[Envelope]:
        """Store ``events`` in one transaction (one fsync) and return them with their seqs."""
        batch = list(events)
        if not batch:
            return []
        stored = self._clock.now().timestamp()  # the clock the health report reads too
        try:
            with self._transaction():
                seq = self._meta("high_water")
                out: list[Envelope] = []
                rows: list[tuple[Any, ...]] = []
                added = 0
                for ev in batch:
                    seq += 1
                    env, row = self._row(seq, ev, stored)
                    out.append(env)
                    rows.append(row)
                    added += row[-1]
                self._db.executemany(
                    "INSERT INTO events (seq, id, ts, device, kind, priority, data, stored, size)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._set_meta("high_water", seq)
                self._set_meta("bytes", self._meta("bytes") + added)
                self._enforce_budget(stored)
        except sqlite3.Error as exc:
            raise OutboxError(f"append of {len(batch)} events failed: {exc}") from exc
        return out

    def ack(self, epoch: str, upto: int) -> int:
        """Delete every event (and dropped range) with seq ≤ ``upto``; return events deleted.

        An ack naming another epoch is about another outbox (a replaced box, a forged ack): it
        is logged, counted (``foreign_acks``) and deletes nothing. An ack below the current one
        is a harmless repeat. An ack beyond the last seq ever assigned cannot be true for this
        outbox, so it is clamped rather than trusted.
        """
        if epoch != self.epoch:
            self.foreign_acks += 1
            self._log.warning("ack for another epoch ignored", ack_epoch=epoch[:64], upto=upto)
            return 0
        try:
            with self._transaction():
                acked = self._meta("acked")
                high = self._meta("high_water")
                if upto > high:
                    self._log.warning("ack beyond last seq; clamped", upto=upto, high_water=high)
                    upto = high
                if upto <= acked:
                    return 0
                freed, count = self._db.execute(
                    "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM events WHERE seq <= ?",
                    (upto,)).fetchone()
                self._db.execute("DELETE FROM events WHERE seq <= ?", (upto,))
                self._db.execute("DELETE FROM dropped WHERE hi <= ?", (upto,))
                self._set_meta("acked", upto)
                self._set_meta("bytes", max(0, self._meta("bytes") - int(freed)))
                return int(count)
        except sqlite3.Error as exc:
            raise OutboxError(f"ack upto {upto} failed: {exc}") from exc

    # -- reading ---------------------------------------------------------------------------

    def pending(self, after: Mapping[Priority, int] | None = None, limit: int = 500,
                max_seq: int | None = None, only: Priority | None = None) -> list[Envelope]:
        """Unacked events, ALARM first then ACCESS then TELEMETRY, each in seq order.

        ``after`` holds one cursor per priority (the last seq already taken); ``max_seq``
        bounds the read, which is how the uplink tells backlog from live events; ``only``
        reads one priority.
        """
        cursors = after or {}
        top = max_seq if max_seq is not None else (1 << 62)
        out: list[Envelope] = []
        for prio in (only,) if only is not None else tuple(Priority):
            if len(out) >= limit:
                break
            rows = self._db.execute(
                "SELECT seq, id, ts, device, kind, priority, data FROM events"
                " WHERE priority = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (int(prio), cursors.get(prio, 0), top, limit - len(out))).fetchall()
            out.extend(self._envelope(r) for r in rows)
        return out

    def pending_wire(self, prio: Priority, after: int, limit: int,
                     max_seq: int | None = None) -> list[tuple[int, WireEnvelope]]:
        """Like ``pending(..., only=prio)`` but each event in its wire form, for
        ``contract.batch.encode_wire_batch``.

        Built straight from the stored columns (``ts`` and ``data`` are stored as the contract
        writes them), so sending never decodes and re-encodes an event; the batch is byte for
        byte what ``encode_batch`` makes of the same envelopes.
        """
        top = max_seq if max_seq is not None else (1 << 62)
        rows = self._db.execute(
            "SELECT seq, id, ts, device, kind, data FROM events"
            " WHERE priority = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (int(prio), after, top, limit)).fetchall()
        p = int(prio)
        wire = wire_envelope
        return [(seq, wire(seq, ident, ts, device, kind, data, p))
                for seq, ident, ts, device, kind, data in rows]

    def gaps(self) -> list[tuple[int, int]]:
        """Dropped seq ranges not yet covered by an ack, for the batch's ``gaps``."""
        rows = self._db.execute("SELECT lo, hi FROM dropped ORDER BY lo").fetchall()
        return [(int(lo), int(hi)) for lo, hi in rows]

    def depth(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def high_water(self) -> int:
        """The last seq ever assigned (0 before the first append)."""
        return self._meta("high_water")

    def acked(self) -> int:
        return self._meta("acked")

    def dropped_total(self) -> int:
        """Events dropped under the budget since the outbox was created."""
        return self._meta("dropped_total")

    def oldest_unacked_ts(self) -> datetime | None:
        """When the oldest unacked event was stored; None when everything is acked."""
        row = self._db.execute("SELECT stored FROM events ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else datetime.fromtimestamp(row[0], UTC)

    def size_bytes(self) -> int:
        """Bytes the unacked events account for: what the budget is measured against."""
        return self._meta("bytes")

    def file_bytes(self) -> int:
        """Bytes on disk, database plus WAL (SQLite keeps freed pages for reuse)."""
        total = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def close(self) -> None:
        self._db.close()

    # -- internals -------------------------------------------------------------------------

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    def _meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    @staticmethod
    def _row(seq: int, ev: NewEvent, stored: float) -> tuple[Envelope, tuple[Any, ...]]:
        prio = ev.effective_priority()
        ts = format_ts(ev.ts)
        data = jsoncodec.dumps(ev.data)
        size = len(data) + len(ev.id) + len(ts) + len(ev.device) + len(ev.kind) + ROW_OVERHEAD
        env = Envelope(seq=seq, id=ev.id, ts=ev.ts, device=ev.device, kind=ev.kind,
                       data=ev.data, priority=prio)
        return env, (seq, ev.id, ts, ev.device, ev.kind, int(prio), data, stored, size)

    @staticmethod
    def _envelope(r: tuple[Any, ...]) -> Envelope:
        return Envelope(seq=int(r[0]), id=r[1], ts=parse_ts(r[2]), device=r[3], kind=r[4],
                        priority=Priority(r[5]), data=jsoncodec.loads(r[6]))

    def _enforce_budget(self, stored: float) -> None:
        """Inside the append transaction: past the budget, drop the oldest telemetry."""
        if self.budget_bytes is None or self._meta("bytes") <= self.budget_bytes:
            return
        excess = self._meta("bytes") - int(self.budget_bytes * DROP_TO)
        victims: list[int] = []
        freed = 0
        cursor = 0
        while freed < excess:
            rows = self._db.execute(
                "SELECT seq, size FROM events WHERE priority = ? AND seq > ?"
                " ORDER BY seq LIMIT 1000", (int(Priority.TELEMETRY), cursor)).fetchall()
            if not rows:
                break
            for seq, size in rows:
                victims.append(int(seq))
                freed += int(size)
                cursor = int(seq)
                if freed >= excess:
                    break
        if not victims:
            self._log.warning("outbox over budget with no telemetry left to drop",
                              bytes=self._meta("bytes"), budget=self.budget_bytes)
            return
        ranges = runs(victims)
        self._db.execute("DELETE FROM events WHERE priority = ? AND seq <= ?",
                         (int(Priority.TELEMETRY), victims[-1]))
        self._db.executemany("INSERT INTO dropped (lo, hi) VALUES (?, ?)", ranges)
        self._set_meta("bytes", self._meta("bytes") - freed)
        self._set_meta("dropped_total", self._meta("dropped_total") + len(victims))
        note = NewEvent(device=self.source, kind=Kind.BUFFER_DROPPED,
                        data={"count": len(victims), "ranges": [list(r) for r in ranges]},
                        ts=self._clock.now(), priority=Priority.ACCESS)
        seq = self._meta("high_water") + 1
        _, row = self._row(seq, note, stored)
        self._db.execute(
            "INSERT INTO events (seq, id, ts, device, kind, priority, data, stored, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._set_meta("high_water", seq)
        self._set_meta("bytes", self._meta("bytes") + row[-1])
        self._log.warning("outbox over budget: dropped oldest telemetry", count=len(victims),
                          ranges=len(ranges), budget=self.budget_bytes, note_seq=seq)


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT``/``ROLLBACK``: the write lock is taken up front."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
