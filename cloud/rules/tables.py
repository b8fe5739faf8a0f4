"""Event-rule files edited through the API, one row per accepted version (issue 6).

Append-only: the newest version is the one in force, older ones are the history of who changed
what. ``version`` is unique, so two edits saved at the same instant cannot both become "next".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import UTCDateTime


class RuleSetVersion(Base):
    """One accepted rule file, exactly as submitted (comments and order kept)."""

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    yaml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
