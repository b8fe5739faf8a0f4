"""The ``commands`` table: every command the console issued, with its state and the reply.

``cmd_id`` (the UUID on the wire) is unique across sites; a reply is matched on it *and* on
the site of the topic it came on, so one site's credential cannot settle another's command.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime


class RemoteCommand(Base):
    """One command to one site's edge."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_site_id_id", "site_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    cmd_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: The login's name as the edge records it (``issued_by`` on the wire).
    issued_by: Mapped[str] = mapped_column(String(128))
    #: The login itself (``user:…`` / ``token:…``), as the audit log names it.
    issued_by_ref: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: The edge's reply: ``ok`` / ``refused`` / ``failed`` / ``expired`` (None: no reply).
    result: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the console recorded the end state, and the edge's own time of its reply.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
