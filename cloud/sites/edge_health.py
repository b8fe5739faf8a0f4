"""What each site's edge last said about itself (``courtyard/v1/{site}/up/health``).

The edge sends a health report every 15 s while connected (``contract.health``): how many
events its outbox still holds and how old the oldest is, how many devices of each family are
online, how many patrol receivers it hears. The console keeps only the latest per site
(``edge_health``, one row per site, overwritten on every report): the cockpit's ``devices``
panel and the company overview read it through ``latest_health``.

A report is **stale** when the console received it more than ``STALE_AFTER_S`` ago, or when
the site is offline (its Last Will fired): the numbers then describe a past the console can no
longer vouch for. ``reported_at`` is the console's clock (the edge's may be off); ``edge_ts`` is
the edge's own time, kept for the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Float, ForeignKey, Integer, Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.dialect import dialect_insert
from cloud.db.models import Base, Site
from cloud.db.types import JsonDoc, UTCDateTime
from contract.health import Health

#: A report older than this (console clock) no longer counts as the edge's present state.
STALE_AFTER_S: Final = 60.0


class EdgeHealthRow(Base):
    """The latest health report of one site's edge."""

    __tablename__ = "edge_health"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    #: When the console received the report (its clock).
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the edge built it (the edge's clock).
    edge_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_depth: Mapped[int] = mapped_column(Integer)
    oldest_age_s: Mapped[float | None] = mapped_column(Float)
    #: ``{family: {"online": n, "total": n}}``.
    devices: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: ``{"heard": n, "total": n}``, or None when the site runs no patrol receivers.
    patrol_receivers: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


EDGE_HEALTH = cast(Table, EdgeHealthRow.__table__)


@dataclass(frozen=True, slots=True)
class EdgeHealth:
    """A site's latest edge health as the console shows it (``stale`` judged at a given now)."""

    site_id: int
    reported_at: datetime
    edge_ts: datetime
    outbox_depth: int
    #: Age of the oldest unacknowledged event when the edge reported (None: outbox empty).
    oldest_age_s: float | None
    devices: dict[str, dict[str, int]]
    patrol_receivers: dict[str, int] | None
    stale: bool


def is_stale(reported_at: datetime, now: datetime, *, online: bool) -> bool:
    """True when a report received at ``reported_at`` no longer describes the edge at ``now``."""
    return not online or now - reported_at > timedelta(seconds=STALE_AFTER_S)


async def latest_health(session: AsyncSession, site_id: int, now: datetime) -> EdgeHealth | None:
    """The latest health report of site ``site_id``, or None when its edge never sent one."""
    row = (await session.execute(
        select(EdgeHealthRow, Site.online)
        .join(Site, Site.id == EdgeHealthRow.site_id)
        .where(EdgeHealthRow.site_id == site_id))).one_or_none()
    if row is None:
        return None
    h, online = row
    devices = {str(f): {"online": int(c.get("online", 0)), "total": int(c.get("total", 0))}
               for f, c in (h.devices or {}).items() if isinstance(c, dict)}
    receivers = h.patrol_receivers
    patrol = (None if not isinstance(receivers, dict)
              else {"heard": int(receivers.get("heard", 0)),
                    "total": int(receivers.get("total", 0))})
    return EdgeHealth(site_id=h.site_id, reported_at=h.reported_at, edge_ts=h.edge_ts,
                      outbox_depth=h.outbox_depth, oldest_age_s=h.oldest_age_s,
                      devices=devices, patrol_receivers=patrol,
                      stale=is_stale(h.reported_at, now, online=bool(online)))


async def store_health(session: AsyncSession, site_id: int, *, reported_at: datetime,
                       edge_ts: datetime, outbox_depth: int, oldest_age_s: float | None,
                       devices: dict[str, dict[str, int]],
                       patrol_receivers: dict[str, int] | None) -> None:
    """Keep this report as the site's latest (replacing the one before), in the caller's
    transaction."""
    values = {"reported_at": reported_at, "edge_ts": edge_ts, "outbox_depth": outbox_depth,
              "oldest_age_s": oldest_age_s, "devices": devices,
              "patrol_receivers": patrol_receivers}
    ins = dialect_insert(session, EDGE_HEALTH).values(site_id=site_id, **values)
    await session.execute(ins.on_conflict_do_update(
        index_elements=["site_id"], set_={k: ins.excluded[k] for k in values}))


async def store_report(session: AsyncSession, site_id: int, report: Health,
                       now: datetime) -> None:
    """The ingest's ``HealthSink``: a decoded ``up/health`` report, received at ``now``."""
    receivers = report.patrol_receivers
    await store_health(
        session, site_id, reported_at=now, edge_ts=report.ts, outbox_depth=report.outbox.depth,
        oldest_age_s=report.outbox.oldest_age_s,
        devices={f: {"online": c.online, "total": c.total} for f, c in report.devices.items()},
        patrol_receivers=(None if receivers is None
                          else {"heard": receivers.heard, "total": receivers.total}))
