"""How long each data class is kept: a company default (``site_id`` NULL) and site overrides.

A missing row means the class's default from ``cloud.retention.classes``; a row records who
set a window and when (the audit log has the before and after).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import UTCDateTime

#: NULLs are distinct in a unique constraint, so the company default needs its own index.
COMPANY_DEFAULT_WHERE = "site_id IS NULL"


class RetentionWindow(Base):
    """The window of one data class, for one site or (``site_id`` NULL) the company."""

    __tablename__ = "retention_windows"
    __table_args__ = (
        UniqueConstraint("site_id", "data_class"),
        Index("ix_retention_windows_company_default", "data_class", unique=True,
              postgresql_where=text(COMPANY_DEFAULT_WHERE),
              sqlite_where=text(COMPANY_DEFAULT_WHERE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    data_class: Mapped[str] = mapped_column(String(32))
    days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
