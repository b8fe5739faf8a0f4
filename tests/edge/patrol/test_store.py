"""patrol.db keeps what a restart needs: the dataset, round bodies, watermarks and the journal
of events not yet in the outbox — written together or not at all."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from contract import NewEvent, Priority
from contract.patrol import PatrolDocument
from edge.patrol.store import FILE_NAME, PatrolDb, PatrolStore

T0 = datetime(2026, 3, 2, 1, 12, tzinfo=UTC)


def event(n: int, priority: Priority | None = None) -> NewEvent:
    return NewEvent(device="patrol", kind="patrol.checkpoint_missed", ts=T0,
                    data={"round": "day@2026-03-02T01:00:00Z", "checkpoint": f"cp{n}",
                          "message": "漏巡点 / checkpoint missed"}, priority=priority,
                    id=f"00000000-0000-0000-0000-{n:012}")


def round_body(rid: str, state: str = "started") -> dict[str, Any]:
    return {"id": rid, "scheduled": "2026-03-02T01:00:00.000000Z", "state": state}


async def test_everything_comes_back_after_reopening(tmp_path: Path) -> None:
    store = await PatrolStore.open(tmp_path)
    assert store.path == tmp_path / FILE_NAME
    assert await store.load_dataset() is None
    doc = cast(PatrolDocument, {"version": 4, "checkpoints": {}, "routes": {}, "plans": {},
                                "tags": {}})
    await store.commit(rounds=[round_body("a"), round_body("b")],
                       events=[event(1), event(2, Priority.ALARM)],
                       watermarks={"day": "2026-03-02T01:10:00+00:00"},
                       document=dict(doc))
    await store.commit(rounds=[round_body("a", "completed")], forget=["b"])
    await store.delivered([event(1).id])
    await store.aclose()

    again = await PatrolStore.open(tmp_path)
    saved = await again.load()
    assert saved.document == doc and await again.load_dataset() == doc
    assert saved.watermarks == {"day": "2026-03-02T01:10:00+00:00"}
    assert saved.rounds == [round_body("a", "completed")]
    assert [(e.id, e.ts, e.data, e.priority) for e in saved.unsent] == [
        (event(2).id, T0, event(2).data, Priority.ALARM)]
    await again.aclose()


async def test_the_syncs_newer_dataset_is_what_the_next_start_reads(tmp_path: Path) -> None:
    store = await PatrolStore.open(tmp_path)
    applied = {"version": 4, "checkpoints": {}, "routes": {}, "plans": {}, "tags": {}}
    await store.commit(document=applied)
    newer = cast(PatrolDocument, {**applied, "version": 5})
    await store.save_dataset(newer)
    assert await store.load_dataset() == newer
    assert (await store.load()).document == applied  # what the tracker applied stays apart
    await store.aclose()


def test_a_failed_commit_leaves_nothing_half_written(tmp_path: Path) -> None:
    db = PatrolDb(tmp_path / FILE_NAME)
    db.commit(rounds=[round_body("a")], watermarks={"day": "x"})
    with pytest.raises(KeyError):  # a body without its scheduled time: fails mid-transaction
        db.commit(rounds=[round_body("a", "completed"), {"id": "broken"}],
                  events=[event(1)], watermarks={"day": "y"})
    saved = db.load()
    assert saved.rounds == [round_body("a")] and saved.unsent == []
    assert saved.watermarks == {"day": "x"}
    db.close()


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    PatrolDb(tmp_path / FILE_NAME).close()
    conn = sqlite3.connect(tmp_path / FILE_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
