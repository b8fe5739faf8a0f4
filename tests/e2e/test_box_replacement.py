"""Acceptance: a site's edge box replaced mid-run (a fresh outbox, seq back at 1) loses nothing
and doubles nothing, with no manual step — through the real uplink, a real Mosquitto, the real
ingest worker and PostgreSQL.

Box A sends 1..N; part of it is stored and acked, then the cloud is away while A sends the rest
and is taken off the site. Box B, with a fresh outbox (a new epoch), sends 1..M; then A comes
back once and resends what no ack covered. The cloud returns and finds A's batches, B's and A's
resends one after the other in its queue (queued batches share transactions; a transaction
holding two epochs is tested in tests/cloud/test_ingest_ingestor.py). Both boxes then drain.
Both boxes use the site's one client id, as a replacement box would, so only one is connected
at a time and each also receives the other's acks, which it must ignore.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Event, IngestEpoch
from cloud.features import default_registry
from cloud.ingest import Ingestor, IngestWorker
from contract import Kind, NewEvent, SystemClock
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support import services

SITE = "swap"
N, M = 600, 400


def gate(box: str, n: int) -> NewEvent:
    return NewEvent(device=f"gate-{box}", kind=Kind.GATE_OPENED, ts=datetime.now(UTC),
                    data={"v": 1, "gate": f"gate-{box}", "n": n})


async def until(cond: Callable[[], object], what: str, within: float = 30.0) -> None:
    """Wait for a condition (plain or awaitable) on state other tasks own, with a deadline."""
    try:
        async with asyncio.timeout(within):
            while True:
                done = cond()
                if inspect.isawaitable(done):
                    done = await done
                if done:
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {within}s waiting for {what}") from None


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(coro)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Event)
                                  .where(Event.kind == Kind.GATE_OPENED)) or 0)


async def test_a_box_replaced_mid_run_delivers_both_epochs_exactly_once(
        tmp_path: Path, pg_url: str, mosquitto: services.Mosquitto) -> None:
    engine = make_engine(pg_url)
    sessions = session_factory(engine)
    ingestor = Ingestor(sessions, SystemClock(), default_registry())

    def worker() -> IngestWorker:  # one client id: its queue waits at the broker while away
        return IngestWorker(mosquitto.url, None, None, ingestor, SystemClock(),
                            client_id="ingest-swap")

    settings = UplinkSettings(site=SITE, mqtt_url=mosquitto.url, batch_size=100,
                              ack_timeout=2.0, replay_rate=100_000.0, telemetry_linger=0.0)
    a = await AsyncOutbox.open(tmp_path / "box-a" / "outbox.db")
    b = await AsyncOutbox.open(tmp_path / "box-b" / "outbox.db")
    assert a.epoch != b.epoch
    try:
        # Box A runs with the cloud: part of its events stored and acked.
        up_a = Uplink(settings, a)
        async with running(worker().run()), running(up_a.run()):
            await a.append_many([gate("a", n) for n in range(N // 2)])

            async def a_acked() -> bool:
                return await a.acked() >= N // 4
            await until(a_acked, "box A's first acks")
        # The cloud is away; A sends the rest and is taken off the site.
        async with running(up_a.run()):
            await a.append_many([gate("a", n) for n in range(N // 2, N)])
            await until(lambda: up_a.counters.published_events >= N, "A's events sent")
        assert await a.depth() > 0, "box A leaves with unacked events"
        # Box B, fresh outbox and epoch, seq from 1 again.
        up_b = Uplink(settings, b)
        async with running(up_b.run()):
            await b.append_many([gate("b", n) for n in range(M)])
            await until(lambda: up_b.counters.published_events >= M, "B's events sent")
        # A comes back once and resends what no ack covered.
        sent_before, unacked = up_a.counters.published_events, await a.depth()
        async with running(up_a.run()):
            await until(lambda: up_a.counters.published_events - sent_before >= unacked,
                        "A's resend of its unacked events")
        assert await stored(sessions) < N + M

        # The cloud returns to a queue of both epochs; both boxes take turns on the link.
        async with running(worker().run()):
            async def all_stored() -> bool:
                return await stored(sessions) >= N + M
            await until(all_stored, "every event of both boxes stored")
            for box, up in ((b, up_b), (a, up_a), (b, up_b)):
                async with running(up.run()):
                    async def drained(box: AsyncOutbox = box) -> bool:
                        return await box.depth() == 0
                    await until(drained, f"outbox {box.path.parent.name} drained")
        assert up_b.counters.acks_other_epoch + up_a.counters.acks_other_epoch > 0, \
            "each box was sent the other's acks and ignored them"

        async with sessions() as s:
            rows = (await s.execute(select(Event.epoch, Event.seq, Event.uuid, Event.device)
                                    .where(Event.kind == Kind.GATE_OPENED))).all()
            marks = {str(e): int(q) for e, q in (await s.execute(
                select(IngestEpoch.epoch, IngestEpoch.acked_seq))).all()}
        assert len(rows) == N + M, f"{len(rows)} rows for {N + M} events"
        assert len({u for _, _, u, _ in rows}) == N + M, "an event was stored twice"
        by_epoch = {e: sorted(q for ep, q, _, _ in rows if ep == e) for e in (a.epoch, b.epoch)}
        assert by_epoch[a.epoch] == list(range(1, N + 1))
        assert by_epoch[b.epoch] == list(range(1, M + 1))
        assert {d for ep, _, _, d in rows if ep == b.epoch} == {"gate-b"}
        assert marks == {a.epoch: N, b.epoch: M}
        assert ingestor.stats.duplicates > 0 and ingestor.stats.conflicts == 0
        assert ingestor.stats.transactions < ingestor.stats.batches, \
            "queued batches were stored several to a transaction"
    finally:
        await a.aclose()
        await b.aclose()
        await engine.dispose()
