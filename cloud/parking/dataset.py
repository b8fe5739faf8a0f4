"""The parking dataset the edge pulls: one JSON document per site and version.

Every edit bumps the site's version in its own transaction (:func:`bump_version`), so a
version names exactly one content, and the document is a pure function of it: entries sorted,
no timestamps of its own. That is what makes ``ETag: "parking-<version>"`` honest and lets an
edge that already holds the version get a 304 without the cloud building anything.

The document's shape, its version and ETag rules are the contract's
(``contract.datasets.ParkingDocument``): ``version``, ``vehicles``, ``spaces``, ``passes``,
``visitors``, ``blacklist`` and ``tariffs`` ``{lot: tariff}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.dialect import dialect_insert
from cloud.db.models import Site
from cloud.parking.records import RESOURCES
from cloud.parking.tables import PARKING_DATASET, DatasetVersion, LotTariff
from contract import datasets

VERSIONS = cast(Table, DatasetVersion.__table__)
SITES = cast(Table, Site.__table__)
#: A document is read between two reads of the version; a write in between means retry.
CONSISTENT_READ_ATTEMPTS = 5


def etag(version: int) -> str:
    return datasets.etag(PARKING_DATASET, version)


async def current_version(session: AsyncSession, site_id: int,
                          name: str = PARKING_DATASET) -> int:
    """The version the edge should hold; 0 before the first edit (an empty dataset)."""
    value = (await session.scalars(select(DatasetVersion.version).where(
        DatasetVersion.site_id == site_id, DatasetVersion.name == name))).first()
    return int(value or 0)


async def bump_version(session: AsyncSession, site_id: int, now: datetime,
                       name: str = PARKING_DATASET) -> int:
    """Add one to the site's version inside the caller's transaction; the new version.

    Call it first in a write transaction: on PostgreSQL the upsert locks the version row, so
    a concurrent edit of the same site waits here and its duplicate checks then see ours.
    """
    ins = dialect_insert(session, VERSIONS).values(site_id=site_id, name=name, version=1,
                                                   updated_at=now)
    stmt = ins.on_conflict_do_update(
        index_elements=["site_id", "name"],
        set_={"version": VERSIONS.c.version + 1, "updated_at": ins.excluded.updated_at},
    ).returning(VERSIONS.c.version)
    return int((await session.execute(stmt)).scalar_one())


async def all_versions(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(site slug, dataset, version) of every site: what the sync publisher re-announces."""
    result = await session.execute(
        select(Site.slug, DatasetVersion.name, DatasetVersion.version)
        .join(Site, Site.id == DatasetVersion.site_id).order_by(Site.slug))
    return [(str(s), str(n), int(v)) for s, n, v in result.all()]


async def tariffs(session: AsyncSession, site_id: int) -> list[LotTariff]:
    return list((await session.scalars(select(LotTariff).where(
        LotTariff.site_id == site_id).order_by(LotTariff.lot))).all())


#: Bookkeeping columns the edge has no use for.
_NOT_SENT = frozenset({"id", "site_id", "created_at", "updated_at"})


async def _contents(session: AsyncSession, site_id: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for res in RESOURCES.values():
        # Plain rows, not ORM objects: a third of the time for a site with 50,000 vehicles.
        # Row attributes carry the column names, which are the model's attribute names.
        table = cast(Table, res.model.__table__)
        cols = [c for c in table.c if c.name not in _NOT_SENT]
        rows = (await session.execute(select(*cols).where(table.c.site_id == site_id)
                                      .order_by(*res.sort_key()))).all()
        doc[res.doc_key] = [res.entry(r) for r in rows]
    doc["tariffs"] = {t.lot: t.doc for t in await tariffs(session, site_id)}
    return doc


async def document(session: AsyncSession, site_id: int) -> dict[str, Any]:
    """The site's dataset (a ``contract.datasets.ParkingDocument``), consistent with its
    version.

    Each list is read by its own statement; a write committed between them would mix two
    versions. Every write bumps the version in its transaction, so equal versions before and
    after the reads prove none happened, on PostgreSQL and SQLite alike. The pull reads in one
    snapshot on PostgreSQL (``cloud.db.snapshot``), where the check then always holds; without
    one, a burst of edits can move the version on every attempt.
    """
    for _ in range(CONSISTENT_READ_ATTEMPTS):
        before = await current_version(session, site_id)
        contents = await _contents(session, site_id)
        if await current_version(session, site_id) == before:
            return {"version": before, **contents}
    raise RuntimeError("parking dataset kept changing while it was read")
