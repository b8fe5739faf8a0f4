"""Anti-passback moves survive a power cut: the store commits each move with SQLite's WAL at
``synchronous=FULL`` (NORMAL may lose the last commits when the power goes), and a move whose
write is done is there when the store is opened again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from edge.access.passback import PassbackStore

AT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


async def test_each_move_is_committed_durably_and_read_back(tmp_path: Path) -> None:
    store, where = await PassbackStore.open(tmp_path / "passback.db")
    try:
        assert where == {}
        assert await store.durability() == ("wal", 2)  # WAL, synchronous=FULL
        store.record("b1", "holder-1", "in", AT).result(timeout=5)
        store.record("b1", "holder-2", "in", AT).result(timeout=5)
        store.record("b1", "holder-1", "out", AT).result(timeout=5)
    finally:
        await store.aclose()
    again, where = await PassbackStore.open(tmp_path / "passback.db")
    try:
        assert where == {("b1", "holder-1"): "out", ("b1", "holder-2"): "in"}
    finally:
        await again.aclose()
