"""A durable SQLite file owned by one worker thread: how the edge's small databases open.

The outbox, the command record and ``patrol.db`` all promise "written before acted on", so
each file is WAL with ``synchronous=FULL`` (a commit is on disk when it returns), and its
connection lives on one thread of its own: no disk I/O on the event loop, and a
``sqlite3.Connection`` is only ever used from the thread that opened it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def open_durable(path: Path, schema: str) -> sqlite3.Connection:
    """Open (or create) ``path`` in autocommit mode, WAL, ``synchronous=FULL``, with
    ``schema`` applied; ``sqlite3.DatabaseError`` (closed again) when the file is no
    database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


async def open_on_thread(factory: Callable[[], T], thread_name: str
                         ) -> tuple[T, ThreadPoolExecutor]:
    """``factory()`` run on a new single worker thread, and that thread for every later call
    (``on_thread``); the thread is shut down again if ``factory`` fails."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
    try:
        made = await asyncio.get_running_loop().run_in_executor(pool, factory)
    except BaseException:
        pool.shutdown(wait=False)
        raise
    return made, pool


async def on_thread(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
