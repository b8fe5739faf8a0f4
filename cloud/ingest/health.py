"""``up/health``: the edge's health report (``contract.health``), kept as its site's latest.

The site is the one in the topic, which the broker only lets that site's credential publish
to (``pattern write courtyard/v1/%u/up/#``); the report itself names no site, so there is
nothing in it to trust or to contradict. A report that breaks the contract is refused naming
the field and counted (``ingest_rejected_malformed_health``), never raised; a kept one is
counted as ``ingest_health_reports``. Who keeps it (the ``edge_health`` table) is the
registry's ``health_sink``, set by ``cloud.sites``: the ingest layer knows no feature's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.dialect import dialect_insert
from cloud.db.models import Site
from cloud.ingest.handlers import HandlerRegistry
from cloud.ingest.result import IngestResult, IngestStats
from contract import Clock, ContractError, topics
from contract.health import decode_health

SITES = cast(Table, Site.__table__)

#: ``Ingestor._refuse``: (reason, topic, site, field, detail) → the counted refusal.
Refuse = Callable[..., IngestResult]


async def handle_health(topic: str, payload: bytes,
                        sessions: async_sessionmaker[AsyncSession], clock: Clock,
                        registry: HandlerRegistry, stats: IngestStats,
                        refuse: Refuse) -> IngestResult:
    parsed = topics.parse(topic)
    if parsed is None or parsed[1:] != ("up", "health"):
        return refuse("bad_topic", topic, field="topic", detail="not an up/health topic")
    site = parsed[0]
    try:
        report = decode_health(payload)
    except ContractError as exc:
        return refuse("malformed_health", topic, site=site, field=exc.field, detail=exc.reason)
    sink = registry.health_sink
    if sink is not None:
        now = clock.now()
        async with sessions() as session, session.begin():
            # The site on first contact, like ``up/status``; a report is a sign of life.
            ins = dialect_insert(session, SITES).values(slug=site, name=site, last_seen_at=now)
            site_id = (await session.execute(
                ins.on_conflict_do_update(index_elements=["slug"],
                                          set_={"last_seen_at": ins.excluded.last_seen_at})
                .returning(SITES.c.id))).scalar_one()
            await sink(session, int(site_id), report, now)
    stats.handlers["health_reports"] += 1
    return IngestResult(ok=True, site=site)
