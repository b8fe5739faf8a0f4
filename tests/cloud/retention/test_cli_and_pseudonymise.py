"""``courtyard cloud purge`` on PostgreSQL, and ``pseudonymise_resident`` on its own (the
erasure of ``cloud.privacy`` calls it too)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.audit import Actor
from cloud.auth.tables import AuditEntry
from cloud.blobs.fs import FsBlobStore
from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Event
from cloud.records.tables import Resident
from cloud.retention.pseudonymise import pseudonymise_resident
from courtyard.cli import main
from tests.cloud.retention.year import NOW, Year, older, seed_year, times

ACCESS = ("door.opened", "access.granted")


async def _seed(url: str, blob_dir: Path) -> Year:
    engine = make_engine(url)
    try:
        return await seed_year(session_factory(engine), "north", FsBlobStore(blob_dir))
    finally:
        await engine.dispose()


async def _access_events(url: str) -> int:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as s:
            return int(await s.scalar(select(func.count()).select_from(Event).where(
                Event.kind.in_(ACCESS))) or 0)
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("restore_logging")
def test_the_purge_command_counts_then_purges_each_class(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COURTYARD_DATABASE_URL", pg_url)
    monkeypatch.setenv("COURTYARD_BLOB_DIR", str(tmp_path / "blobs"))
    asyncio.run(_seed(pg_url, tmp_path / "blobs"))
    n = len(times("access_log"))
    # the command purges by the real clock, hours after the scripted NOW
    take = older([t - (datetime.now(UTC) - NOW) for t in times("access_log")], 180)

    assert main(["cloud", "purge", "--site", "north", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in lines] == [
        "plate_images", "plate_reads", "access_log", "patrol_traces", "workorder_photos",
        "view_audit", "telemetry", "resident_identity"]
    assert f"would purge / 将清理 {take} rows" in lines[2]
    assert asyncio.run(_access_events(pg_url)) == n

    assert main(["cloud", "purge"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"purged / 已清理 {take} rows" in lines[2]
    assert asyncio.run(_access_events(pg_url)) == n - take

    assert main(["cloud", "purge", "--site", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.fixture
async def sessions(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(pg_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_pseudonymise_once_and_the_audit_names_fields_not_values(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    y = await seed_year(sessions, "north", FsBlobStore(tmp_path))
    clerk = Actor("user:7", "李四", "admin")
    later = NOW + timedelta(days=1)
    async with sessions() as s, s.begin():
        r = await s.get(Resident, y.residents["current"])
        assert r is not None
        changed = await pseudonymise_resident(s, r, NOW, clerk)
        assert await pseudonymise_resident(s, r, later, clerk) == []
    assert changed == ["name", "phone", "id_number", "email", "note", "pseudonymised_at"]
    async with sessions() as s:
        r = await s.get(Resident, y.residents["current"])
        assert r is not None
        assert (r.name, r.phone, r.id_number, r.email, r.note, r.pseudonymised_at) == (
            f"住户#{r.id}", None, None, None, None, NOW)
        (entry,) = (await s.scalars(select(AuditEntry).where(
            AuditEntry.action == "pseudonymise"))).all()
    assert (entry.entity, entry.entity_id, entry.site_id, entry.actor) == (
        "resident", str(r.id), y.site_id, "user:7")
    assert entry.detail == {"fields": changed} and entry.before is None
    assert "13800000000" not in str(entry.detail) and "张current" not in str(entry.detail)
