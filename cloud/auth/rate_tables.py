"""Login and pull rate-limit hits, shared by every console process (issue 16 §4).

One row per counted attempt: ``key`` names the limiter and what it counts (``login-address|…``,
``login-username|…``), ``at`` the attempt's time. Rows older than the window are pruned as the
limiter goes, so the table holds minutes of attempts, not history (the audit log is that).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import BigId, UTCDateTime


class RateHit(Base):
    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_key_at", "key", "at"),
                      Index("ix_rate_hits_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
