"""The outbox on a real SQLite file: seqs, acks, budget drops and surviving kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from contract import FakeClock, Kind, Priority
from edge.outbox import AsyncOutbox, Outbox, runs
from tests.edge.helpers_events import access, alarm, reading

REPO = Path(__file__).resolve().parents[2]


def test_seq_is_strictly_increasing_and_never_reused(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    first = box.append([reading(n=i) for i in range(5)])
    assert [e.seq for e in first] == [1, 2, 3, 4, 5]
    assert box.ack(box.epoch, 5) == 5
    assert box.depth() == 0
    box.close()
    box = Outbox(tmp_path / "o.db")
    again = box.append([reading(n=9)])
    assert again[0].seq == 6, "seq must not restart after all rows were deleted and reopened"
    box.close()


def test_pending_orders_by_priority_then_seq_after_cursors(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([reading(n=1), alarm(n=2), access(n=3), reading(n=4), alarm(n=5)])
    got = box.pending(limit=10)
    assert [(int(e.priority), e.seq) for e in got] == [(0, 2), (0, 5), (1, 3), (2, 1), (2, 4)]
    after = {Priority.ALARM: 2, Priority.TELEMETRY: 1}
    assert [e.seq for e in box.pending(after, limit=10)] == [5, 3, 4]
    assert [e.seq for e in box.pending(limit=2)] == [2, 5]
    assert [e.seq for e in box.pending(limit=10, max_seq=3)] == [2, 3, 1]
    back = got[0]
    assert back.kind == "fire.alarm" and back.data == {"zone": 2} and back.ts.tzinfo is not None
    box.close()


def test_ack_deletes_only_what_it_covers(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([reading(n=i) for i in range(10)])
    assert box.ack(box.epoch, 4) == 4
    assert [e.seq for e in box.pending(limit=100)] == [5, 6, 7, 8, 9, 10]
    assert box.ack(box.epoch, 3) == 0, "an older ack repeated must not delete anything"
    assert box.ack(box.epoch, 1000) == 6, "an ack past the last seq is clamped, not trusted"
    assert box.acked() == 10
    new = box.append([reading(n=11)])
    assert new[0].seq == 11 and box.depth() == 1
    assert box.oldest_unacked_ts() is not None
    box.close()


def test_budget_drops_oldest_telemetry_only_and_records_it(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", budget_bytes=20_000, clock=clock, source="edge-demo")
    box.append([alarm(n=0)])                                  # seq 1
    box.append([reading(n=i, pad=900) for i in range(5)])     # seq 2..6
    box.append([access(n=1)])                                 # seq 7
    box.append([reading(n=i, pad=900) for i in range(30)])    # seq 8..37, over budget
    assert box.size_bytes() <= 20_000
    left = box.pending(limit=1000)
    kinds = [e.kind for e in left]
    assert kinds.count("fire.alarm") == 1 and kinds.count("gate.opened") == 1
    notes = [e for e in left if e.kind == Kind.BUFFER_DROPPED]
    assert len(notes) == 1
    note = notes[0]
    assert note.seq == 38 and note.device == "edge-demo" and note.priority == Priority.ACCESS
    assert note.ts == clock.now()
    ranges = [tuple(r) for r in note.data["ranges"]]
    count = note.data["count"]
    assert ranges[0] == (2, 6), "the oldest telemetry goes first, around the access event"
    assert sum(hi - lo + 1 for lo, hi in ranges) == count
    assert box.dropped_total() == count
    assert box.gaps() == ranges
    dropped = {s for lo, hi in ranges for s in range(lo, hi + 1)}
    remaining = {e.seq for e in left}
    assert dropped.isdisjoint(remaining)
    assert dropped | remaining == set(range(1, 39)), "every seq is either kept or announced"
    box.ack(box.epoch, ranges[0][1])
    assert box.gaps() == ranges[1:]
    box.close()


def test_budget_never_drops_alarms_even_when_only_alarms_fill_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=2_000)
    big = [alarm(n=i) for i in range(100)]
    box.append(big)
    assert box.depth() == 100 and box.dropped_total() == 0
    box.close()


def test_runs_collapses_consecutive_seqs() -> None:
    assert runs([1, 2, 3, 5, 7, 8]) == [(1, 3), (5, 5), (7, 8)]
    assert runs([]) == []


async def test_emit_batches_concurrent_callers_and_wakes_listeners(tmp_path: Path) -> None:
    box = await AsyncOutbox.open(tmp_path / "o.db")
    async with box:
        woke = box.subscribe()
        await asyncio.gather(*(box.emit(reading(n=i)) for i in range(1200)))
        assert woke.is_set()
        assert await box.depth() == 1200
        got = await box.pending(limit=2000)
        assert [e.seq for e in got] == list(range(1, 1201))
        assert sorted(e.data["values"]["energy_import_kwh"] for e in got) == [
            float(i) for i in range(1200)]
        bulk = await box.append_many([reading(n=i) for i in range(100)])
        assert bulk[0].seq == 1201 and bulk[-1].seq == 1300
    with pytest.raises(RuntimeError):
        await box.emit(reading())


def test_emitted_events_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    proc = subprocess.Popen([sys.executable, "-m", "tests.edge.helpers_outbox_writer", str(db)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    promised: list[str] = []
    try:
        for line in proc.stdout:
            promised.append(line.strip())
            if len(promised) >= 3000:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    # What was printed before the kill landed but not yet read is promised too.
    promised += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    box = Outbox(db)
    stored = box.pending(limit=1_000_000)
    ids = {e.id for e in stored}
    missing = [p for p in promised if p not in ids]
    assert not missing, f"{len(missing)} events lost although emit returned"
    seqs = sorted(e.seq for e in stored)
    assert seqs == list(range(1, len(seqs) + 1)), "seq must be contiguous after a crash"
    assert box.high_water() == len(seqs)
    box.close()


def test_each_outbox_file_has_its_own_epoch_and_keeps_it(tmp_path: Path) -> None:
    a, b = Outbox(tmp_path / "a.db"), Outbox(tmp_path / "b.db")
    assert a.epoch != b.epoch and len(a.epoch) == 26
    epoch = a.epoch
    a.close()
    b.close()
    again = Outbox(tmp_path / "a.db")
    assert again.epoch == epoch, "reopening is the same outbox, the same epoch"
    again.close()


def test_a_file_from_before_epochs_gets_one_and_declares_its_acked_seqs_a_gap(
        tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([reading(n=i) for i in range(6)])
    box.ack(box.epoch, 4)
    box._db.execute("DELETE FROM ident")  # as an outbox written before epochs
    box._db.execute("DELETE FROM dropped")
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.gaps() == [(1, 4)], "seqs 1-4 were acked under no epoch: not in this one"
    assert [e.seq for e in box.pending(limit=10)] == [5, 6]
    assert box.ack(box.epoch, 5) == 1 and box.gaps() == []
    box.close()


def test_an_ack_naming_another_epoch_deletes_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append([reading(n=i) for i in range(3)])
    assert box.ack("another-epoch-000000000000", 3) == 0
    assert box.depth() == 3 and box.acked() == 0 and box.foreign_acks == 1
    box.close()
