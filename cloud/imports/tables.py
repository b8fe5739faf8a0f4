"""Import jobs (issue 16 §4): a large import's state and progress, readable from any console
process. The process running the job renews ``heartbeat_at`` as it goes; a running job whose
heartbeat is stale belongs to a process that died and reads as failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    site: Mapped[str] = mapped_column(String(63))
    actor: Mapped[str] = mapped_column(String(100), index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed
    phase: Mapped[str] = mapped_column(String(16))
    rows_done: Mapped[int] = mapped_column(Integer)
    rows_total: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(100))  # host:pid of the process running it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
