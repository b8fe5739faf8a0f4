"""The ``blobs`` index: what the blob store holds, for whom and of which data class.

One row per ref. ``site_id`` is the site that stored it first; when another site stores the
very same bytes the row's ``site_id`` becomes NULL (shared), so ``forget`` looks for remaining
references in every site before it deletes a shared blob and in one site otherwise. Retention
(``data_class``, see docs/data-lifecycle.md §2) and backup read this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from sqlalchemy import BigInteger, ForeignKey, Index, String, Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cloud.blobs.store import REF_LEN
from cloud.db.dialect import dialect_insert
from cloud.db.models import Base
from cloud.db.types import UTCDateTime

#: The data class of plate and scene images (retention window ``plate_images``).
PLATE_IMAGES: Final = "plate_images"


class Blob(Base):
    """One stored blob."""

    __tablename__ = "blobs"
    __table_args__ = (Index(None, "site_id", "data_class", "created_at"),)

    ref: Mapped[str] = mapped_column(String(REF_LEN), primary_key=True)
    #: The site that stored it; NULL once a second site stored the same bytes.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    data_class: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


BLOBS = cast(Table, Blob.__table__)


@dataclass(frozen=True, slots=True)
class BlobRow:
    """A blob just put in the store, to be indexed in the transaction that stores its event."""

    ref: str
    data_class: str
    content_type: str
    size: int


async def index_blobs(session: AsyncSession, site_id: int, rows: Iterable[BlobRow],
                      now: datetime) -> None:
    """Index ``rows`` for ``site_id`` in the session's transaction. Idempotent: a ref already
    indexed for this site is left alone (a redelivered batch); for another site it becomes
    shared (``site_id`` NULL)."""
    unique = {r.ref: r for r in rows}
    if not unique:
        return
    ins = dialect_insert(session, BLOBS).values([
        {"ref": r.ref, "site_id": site_id, "data_class": r.data_class,
         "content_type": r.content_type, "bytes": r.size, "created_at": now}
        for r in sorted(unique.values(), key=lambda r: r.ref)])  # one lock order
    await session.execute(ins.on_conflict_do_update(
        index_elements=["ref"], set_={"site_id": None},
        where=BLOBS.c.site_id.is_distinct_from(ins.excluded.site_id)))
