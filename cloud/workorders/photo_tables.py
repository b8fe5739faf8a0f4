"""Photos on work orders: the re-encoded JPEG and its thumbnail, kept in the database.

Photos live beside the order (not on a file server) so a backup or a site export carries
them, and so deleting an order takes its photos with it. ``sha256`` is of the bytes as
uploaded and unique per order: a phone that retries an upload gets the first copy back.
The image columns are deferred, so listing an order's photos never loads the images.
"""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import UTCDateTime


class WorkOrderPhoto(Base):
    """One photo of the job (before, during, after), who took it and a short note."""

    __tablename__ = "work_order_photos"
    __table_args__ = (UniqueConstraint("work_order_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: What was uploaded (``image/jpeg`` or ``image/png``) and how big it was.
    source_type: Mapped[str] = mapped_column(String(16))
    source_bytes: Mapped[int] = mapped_column(Integer)
    #: Of the stored JPEG (longest side at most 1600 px).
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    jpeg: Mapped[builtins.bytes] = mapped_column(LargeBinary, deferred=True)
    thumb: Mapped[builtins.bytes] = mapped_column(LargeBinary, deferred=True)
