"""``courtyard cloud cockpit rebuild``: the command an operator runs after an upgrade prints
each site's days and repairs rollups that went missing; an unknown site is refused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from cloud.cockpit.tables import CockpitHourly
from cloud.db.engine import make_engine, session_factory
from cloud.features import default_registry
from cloud.ingest import Ingestor
from contract import Batch, Envelope, FakeClock, Priority, encode_batch, topics
from courtyard.cli import main
from tests.support.epochs import TEST_EPOCH
from tests.support.services import migrated_sqlite_copy


async def _ingest_then_lose_rollups(url: str, at: datetime) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        events = [Envelope(seq=i + 1, id=str(uuid.uuid4()), ts=at + timedelta(minutes=i),
                           device="lane-in", kind="parking.entry",
                           data={"v": 1, "lot": "P1", "lane": "in", "plate": f"沪A{i}",
                                 "session": f"s{i}"}, priority=Priority.ACCESS)
                  for i in range(3)]
        ingestor = Ingestor(sessions, FakeClock(at), default_registry())
        await ingestor.handle(topics.up_events("demo"), encode_batch(
            Batch(epoch=TEST_EPOCH, site="demo", events=events, gaps=[])))
        async with sessions() as s, s.begin():
            await s.execute(delete(CockpitHourly))  # lost: the upgrade that added them
    finally:
        await engine.dispose()


async def _sums(url: str) -> dict[tuple[str, str], Decimal]:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as s:
            h = CockpitHourly
            rows = (await s.execute(select(h.subject_type, h.subject, h.value)
                                    .where(h.metric == "parking_entries"))).all()
        return {(t, sub): v for t, sub, v in rows}
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("restore_logging")
def test_rebuild_command_restores_the_rollups_and_prints_each_day(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = migrated_sqlite_copy(tmp_path / "cloud.db")
    monkeypatch.setenv("COURTYARD_DATABASE_URL", url)
    # Three events a minute apart inside one clock hour (one hourly cell per subject), at least
    # 40 minutes ago: the minutes :10–:12 of the previous hour.
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=50)
    asyncio.run(_ingest_then_lose_rollups(url, at))
    assert asyncio.run(_sums(url)) == {}
    assert main(["cloud", "cockpit", "rebuild", "--site", "demo", "--days", "2"]) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("站点")]
    # one line per site day (the events may straddle the site's midnight), then the total
    assert len(out) == 3 and all(line.endswith("事件 / events") for line in out[:2])
    assert sum(int(line.rsplit(": ", 1)[1].split()[0]) for line in out[:2]) == 3
    assert out[2] == "站点 demo: 2 天 / days, 3 事件 / events, 2 项 / cells"
    assert asyncio.run(_sums(url)) == {("lot", "P1"): Decimal(3), ("site", ""): Decimal(3)}
    assert main(["cloud", "cockpit", "rebuild", "--site", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["cloud", "cockpit", "rebuild", "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err
