"""The purge over a year of scripted data on PostgreSQL (and SQLite): exactly what the
windows say goes, money stays, one audit row per class, the resident who left four years ago
is pseudonymised, a site's override is its own, and ingest still acks after a purge."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import SYSTEM
from cloud.auth.tables import AuditEntry
from cloud.billing.tables import Bill, BillLine, BillRun, FeeItem
from cloud.blobs.fs import FsBlobStore
from cloud.blobs.tables import Blob
from cloud.db.engine import make_engine
from cloud.db.engine import session_factory as make_sessions
from cloud.db.models import Event, Reading
from cloud.features import default_registry
from cloud.ingest import Ingestor
from cloud.patrol.tables import PatrolRound, PatrolVisit
from cloud.payments.tables import Payment, PaymentAllocation, Receipt
from cloud.records.tables import Resident
from cloud.retention.cli import purge
from cloud.retention.purge import purge_site
from cloud.retention.tables import RetentionWindow
from cloud.workorders.photo_tables import WorkOrderPhoto
from contract import Batch, Envelope, FakeClock, Priority, encode_batch, topics
from tests.cloud.retention.year import NOW, Year, expected, older, seed_year, times
from tests.support.epochs import TEST_EPOCH

Sessions = async_sessionmaker[AsyncSession]
MONEY = (Bill, BillLine, BillRun, FeeItem, Payment, PaymentAllocation, Receipt)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    """PostgreSQL, and the embedded SQLite a one-process console runs on."""
    engine = make_engine(db_url)
    try:
        yield make_sessions(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> FsBlobStore:
    return FsBlobStore(tmp_path / "blobs")


async def count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def events(sessions: Sessions, y: Year, *kinds: str) -> int:
    return await count(sessions, Event, Event.site_id == y.site_id, Event.kind.in_(kinds))


async def test_a_year_purged_exactly_by_the_windows(sessions: Sessions,
                                                    store: FsBlobStore) -> None:
    y = await seed_year(sessions, "north", store)
    other = await seed_year(sessions, "south", store)
    money = {m.__tablename__: await count(sessions, m) for m in MONEY}
    n = len(times("access_log"))
    assert await events(sessions, y, "door.opened", "access.granted") == n

    dry = await purge_site(sessions, site_id=y.site_id, now=NOW, actor=SYSTEM, blobs=store,
                           batch=100, dry_run=True)
    assert await events(sessions, y, "door.opened", "access.granted") == n  # nothing changed
    report = await purge_site(sessions, site_id=y.site_id, now=NOW, actor=SYSTEM,
                              blobs=store, batch=100)

    plate_reads = times("plate_images")
    want = {
        "plate_images": older(plate_reads, 30) + older(times("plate_reads"), 30),
        "plate_reads": older(plate_reads, 180) + expected("plate_reads"),
        "access_log": expected("access_log"),
        "patrol_traces": 3 * expected("patrol_traces"),  # events, visits, rounds
        "workorder_photos": expected("workorder_photos"),
        "view_audit": expected("view_audit"),
        "telemetry": 2 * expected("telemetry"),  # readings and meter.reading events
        "resident_identity": 1,
    }
    assert report.counts() == want
    assert dry.counts() == {**want, "plate_images": want["plate_images"]}
    # just inside each boundary is kept, just outside is gone
    assert expected("access_log") == sum(d >= 180 for d in (*range(365), 729, 730, 1094,
                                                            1095, 1096)) + 1
    assert await events(sessions, y, "door.opened", "access.granted") == n - want["access_log"]
    assert await events(sessions, y, "patrol.checkpoint") == n - expected("patrol_traces")
    assert await count(sessions, PatrolVisit, PatrolVisit.site_id == y.site_id) == (
        n - expected("patrol_traces"))
    assert await count(sessions, PatrolRound, PatrolRound.site_id == y.site_id) == (
        n - expected("patrol_traces"))
    assert await count(sessions, WorkOrderPhoto) == 2 * n - expected("workorder_photos")
    assert await count(sessions, Reading, Reading.site_id == y.site_id) == (
        n - expected("telemetry"))
    assert await events(sessions, y, "device.online") == n  # no class covers it
    assert await count(sessions, AuditEntry, AuditEntry.site_id == y.site_id,
                       AuditEntry.action == "view") == n - expected("view_audit")
    assert await count(sessions, AuditEntry, AuditEntry.site_id == y.site_id,
                       AuditEntry.entity == "payment") == n  # money audit kept
    # images: plate reads between 30 and 180 days old stay, without their image
    async with sessions() as s:
        kept = (await s.execute(select(Event.ts, Event.data).where(
            Event.site_id == y.site_id, Event.kind == "plate.read"))).all()
    assert len(kept) == len(plate_reads) - older(plate_reads, 180)
    for ts, data in kept:
        imaged = ts >= NOW - timedelta(days=30)
        assert (data["evidence_blob"] is not None) == imaged, (ts, data)
        assert ("evidence" in data.get("images_purged", [])) != imaged
    gone = [r for r, ts in zip(y.refs, plate_reads, strict=True) if ts < NOW - timedelta(30)]
    assert report.classes[0].blobs == len(gone)
    assert [await store.exists(r) for r in gone] == [False] * len(gone)
    assert await count(sessions, Blob, Blob.site_id == y.site_id) == len(y.refs) - len(gone)
    # money: every row kept
    assert {m.__tablename__: await count(sessions, m) for m in MONEY} == money
    # the other site is untouched
    assert await events(sessions, other, "door.opened", "access.granted") == n
    assert await count(sessions, Blob, Blob.site_id == other.site_id) == len(other.refs)

    async with sessions() as s:
        audit = (await s.scalars(select(AuditEntry).where(
            AuditEntry.action == "purge").order_by(AuditEntry.id))).all()
        residents = {r.id: r for r in (await s.scalars(select(Resident))).all()}
    assert [(a.entity, a.entity_id, a.site_id) for a in audit] == [
        ("retention", c, y.site_id) for c in want]
    assert {a.detail["class"]: (a.detail["rows"], a.detail["blobs"]) for a in audit if a.detail
            } == {c.data_class: (c.rows, c.blobs) for c in report.classes}
    assert audit[0].detail is not None and audit[0].detail["cutoff"] == (
        NOW - timedelta(days=30)).isoformat()
    gone_one = residents[y.residents["four_years"]]
    assert (gone_one.name, gone_one.phone, gone_one.id_number, gone_one.email,
            gone_one.note) == (f"住户#{gone_one.id}", None, None, None, None)
    assert gone_one.pseudonymised_at == NOW
    for key in ("one_year", "current"):
        r = residents[y.residents[key]]
        assert (r.name, r.phone, r.pseudonymised_at) == (f"张{key}", "13800000000", None)
    assert residents[other.residents["four_years"]].pseudonymised_at is None

    again = await purge_site(sessions, site_id=y.site_id, now=NOW, actor=SYSTEM, blobs=store)
    assert set(again.counts().values()) == {0}
    assert again.as_dict()["classes"]["plate_images"] == {
        "days": 30, "cutoff": (NOW - timedelta(days=30)).isoformat(), "rows": 0, "blobs": 0}


async def test_a_site_override_applies_to_that_site_only(sessions: Sessions,
                                                         store: FsBlobStore) -> None:
    y = await seed_year(sessions, "north", store)
    other = await seed_year(sessions, "south", store)
    async with sessions() as s, s.begin():
        s.add_all([RetentionWindow(site_id=y.site_id, data_class="access_log", days=90,
                                   updated_by="user:1", updated_at=NOW),
                   RetentionWindow(site_id=None, data_class="access_log", days=270,
                                   updated_by="user:1", updated_at=NOW)])
    lines = await purge(sessions, site=None, dry_run=False, now=NOW, blobs=store)
    n = len(times("access_log"))
    assert await events(sessions, y, "door.opened", "access.granted") == (
        n - expected("access_log", 90))
    assert await events(sessions, other, "door.opened", "access.granted") == (
        n - expected("access_log", 270))
    assert f"north\taccess_log\tpurged / 已清理 {expected('access_log', 90)} rows" in "\n".join(
        lines)
    with pytest.raises(LookupError):
        await purge(sessions, site="nowhere", dry_run=True, now=NOW, blobs=store)


def _door(seq: int) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=NOW, device="door-1",
                    kind="door.opened", data={"door": "d1"}, priority=Priority.ACCESS)


async def test_ingest_still_acks_after_a_purge(sessions: Sessions, store: FsBlobStore) -> None:
    y = await seed_year(sessions, "north", store)
    mark = y.seq
    # an old event above the mark (its predecessor never came) must survive the purge
    async with sessions() as s, s.begin():
        s.add(Event(site_id=y.site_id, epoch=TEST_EPOCH, seq=mark + 2, uuid=str(uuid.uuid4()),
                    ts=NOW - timedelta(days=400), kind="door.opened", device="door-1",
                    priority=1, data={}, received_at=NOW - timedelta(days=400)))
    await purge_site(sessions, site_id=y.site_id, now=NOW, actor=SYSTEM, blobs=store)
    assert await count(sessions, Event, Event.seq == mark + 2) == 1
    ingestor = Ingestor(sessions, FakeClock(NOW), default_registry())
    batch = encode_batch(Batch(epoch=TEST_EPOCH, site=y.slug, events=[_door(mark + 1)]))
    res = await ingestor.handle(topics.up_events(y.slug), batch)
    assert (res.ok, res.inserted, res.ack_upto) == (True, 1, mark + 2)
    res = await ingestor.handle(topics.up_events(y.slug), encode_batch(
        Batch(epoch=TEST_EPOCH, site=y.slug, events=[_door(mark + 3)])))
    assert (res.ok, res.inserted, res.ack_upto) == (True, 1, mark + 3)
