"""The columns every lifecycle's history row shares (an alarm's, a work order's): which action
moved the record from which state to which, who did it, when, and their note. The transition
tables themselves are ``cloud.lifecycle``; each feature's history table adds its own columns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.types import BigId, UTCDateTime


class StepColumns:
    """Mixin for a ``*_actions`` table (declared before the table's own columns)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
