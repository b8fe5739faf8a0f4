"""``patrol.db``: what the round tracker must not forget across a restart.

It holds the last patrol dataset document (the sync's cache, and the version the tracker
applied, so the edge tracks rounds offline from its first second), each recent round's state
(a JSON body per round: its plan as it started, every checkpoint's state, which events it
emitted) with the per-plan planning watermarks, and the *unsent* journal: events decided but
not yet handed to the outbox.

Delivery is at-least-once. ``commit`` writes a decision's state and its events to the journal
in one transaction (SQLite WAL, ``synchronous=FULL``) before anything is emitted; the tracker
then emits them and ``delivered`` clears them. A crash in between re-emits on the next start
— never loses an alarm — and because every event id is deterministic (uuid5 of round,
checkpoint and kind), a re-emit is the same event to the console (visits are idempotent by
event id there), not a second alarm. A crash before the commit loses nothing either: the
decision is taken again from the unchanged state on the first tick.

Blocking by design, like ``edge.outbox``: ``PatrolStore`` runs ``PatrolDb`` on one thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog

from contract import NewEvent, Priority, jsoncodec
from contract.envelope import format_ts, parse_ts
from contract.patrol import PatrolDocument
from edge.sqlite_thread import on_thread, open_durable, open_on_thread

T = TypeVar("T")
log = structlog.get_logger("edge.patrol.store")

FILE_NAME = "patrol.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    id        TEXT PRIMARY KEY,
    scheduled TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unsent (
    n    INTEGER PRIMARY KEY AUTOINCREMENT,
    id   TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"""


class PatrolStoreError(RuntimeError):
    """patrol.db cannot be read or written (disk, corruption)."""


@dataclass(slots=True)
class Saved:
    """Everything ``patrol.db`` holds, as the tracker reloads it."""

    document: dict[str, Any] | None = None  # the version the round tracker applied
    dataset: dict[str, Any] | None = None  # the newest version the sync accepted
    watermarks: dict[str, str] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[NewEvent] = field(default_factory=list)


def event_json(ev: NewEvent) -> str:
    return jsoncodec.dumps({"id": ev.id, "device": ev.device, "kind": ev.kind,
                            "ts": format_ts(ev.ts), "data": ev.data,
                            "priority": None if ev.priority is None else int(ev.priority)})


def event_from_json(text: str) -> NewEvent:
    raw = jsoncodec.loads(text)
    prio = raw.get("priority")
    return NewEvent(device=raw["device"], kind=raw["kind"], data=raw["data"],
                    ts=parse_ts(raw["ts"]), priority=None if prio is None else Priority(prio),
                    id=raw["id"])


class PatrolDb:
    """The file itself. Not thread-safe: use it from one thread only."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self._db = open_durable(self.path, _SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise PatrolStoreError(f"cannot open {self.path}: {exc}") from exc

    def load(self) -> Saved:
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            rounds = [jsoncodec.loads(b) for (b,) in self._db.execute(
                "SELECT body FROM rounds ORDER BY scheduled, id")]
            unsent = [event_from_json(b) for (b,) in self._db.execute(
                "SELECT body FROM unsent ORDER BY n")]
        except (sqlite3.Error, ValueError, KeyError) as exc:
            raise PatrolStoreError(f"cannot read {self.path}: {exc}") from exc
        doc = jsoncodec.loads(meta["document"]) if "document" in meta else None
        marks = jsoncodec.loads(meta["watermarks"]) if "watermarks" in meta else {}
        dataset = jsoncodec.loads(meta["dataset"]) if "dataset" in meta else None
        return Saved(document=doc, dataset=dataset, watermarks=marks, rounds=rounds,
                     unsent=unsent)

    def commit(self, *, rounds: Sequence[dict[str, Any]] = (), events: Iterable[NewEvent] = (),
               watermarks: dict[str, str] | None = None, forget: Sequence[str] = (),
               document: dict[str, Any] | None = None) -> None:
        """One transaction: round bodies upserted, events journalled, rounds forgotten,
        watermarks and the document replaced (when given)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if document is not None:
                    self._set("document", jsoncodec.dumps(document))
                if watermarks is not None:
                    self._set("watermarks", jsoncodec.dumps(watermarks))
                self._db.executemany(
                    "INSERT INTO rounds (id, scheduled, body) VALUES (?, ?, ?) ON CONFLICT (id)"
                    " DO UPDATE SET body = excluded.body",
                    [(r["id"], r["scheduled"], jsoncodec.dumps(r)) for r in rounds])
                self._db.executemany("DELETE FROM rounds WHERE id = ?", [(i,) for i in forget])
                self._db.executemany("INSERT OR IGNORE INTO unsent (id, body) VALUES (?, ?)",
                                     [(ev.id, event_json(ev)) for ev in events])
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise PatrolStoreError(f"cannot write {self.path}: {exc}") from exc

    def save_dataset(self, doc: dict[str, Any]) -> None:
        try:
            self._set("dataset", jsoncodec.dumps(doc))
        except sqlite3.Error as exc:
            raise PatrolStoreError(f"cannot write {self.path}: {exc}") from exc

    def delivered(self, ids: Sequence[str]) -> None:
        """The outbox holds these events now: out of the journal."""
        try:
            with self._db:  # one transaction, one fsync, however many
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM unsent WHERE id = ?", [(i,) for i in ids])
        except sqlite3.Error as exc:
            raise PatrolStoreError(f"cannot write {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _set(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key)"
                         " DO UPDATE SET value = excluded.value", (key, value))


class PatrolStore:
    """``PatrolDb`` on its own thread. ``await PatrolStore.open(data_dir)``, then ``aclose()``."""

    def __init__(self, db: PatrolDb, pool: ThreadPoolExecutor) -> None:
        self._db = db
        self._pool = pool
        self._closed = False

    @classmethod
    async def open(cls, data_dir: Path | str, name: str = FILE_NAME) -> PatrolStore:
        db, pool = await open_on_thread(lambda: PatrolDb(Path(data_dir) / name), "patrol-db")
        log.info("patrol.store_opened", path=str(db.path))
        return cls(db, pool)

    @property
    def path(self) -> Path:
        return self._db.path

    async def load(self) -> Saved:
        return await self._call(self._db.load)

    async def load_dataset(self) -> PatrolDocument | None:
        """The newest dataset document kept (the sync's cache, else the one the tracker
        applied; None before the first one): ``edge.patrol.sync.DatasetCache``."""
        saved = await self.load()
        doc = saved.dataset if saved.dataset is not None else saved.document
        return cast(PatrolDocument, doc) if doc is not None else None

    async def save_dataset(self, doc: PatrolDocument) -> None:
        """Keep an accepted document before the tracker sees it (durable on return)."""
        await self._call(self._db.save_dataset, dict(doc))

    async def commit(self, *, rounds: Sequence[dict[str, Any]] = (),
                     events: Iterable[NewEvent] = (), watermarks: dict[str, str] | None = None,
                     forget: Sequence[str] = (), document: dict[str, Any] | None = None) -> None:
        evs = list(events)
        await self._call(lambda: self._db.commit(rounds=rounds, events=evs,
                                                 watermarks=watermarks, forget=forget,
                                                 document=document))

    async def delivered(self, ids: Sequence[str]) -> None:
        if ids:
            await self._call(self._db.delivered, list(ids))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._call(self._db.close)
        self._pool.shutdown(wait=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await on_thread(self._pool, fn, *args)
