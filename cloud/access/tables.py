"""The ``access_cards``, ``access_profiles``, ``access_groups`` and ``access_passes`` tables.

A card row is never deleted: revoking keeps who had it and why (the number then goes on the
dataset's ``blocked`` list until it is issued again). One active row per number and site is
enforced by the service under the dataset's version lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime
from contract.datasets import ACCESS

ACCESS_DATASET = ACCESS


class AccessCard(Base):
    """One card issued to one holder."""

    __tablename__ = "access_cards"
    __table_args__ = (Index("ix_access_cards_site_id_number", "site_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(BigInteger)
    #: ``resident-<id>`` or ``staff:<name>``: the holder id the dataset and events carry.
    holder: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    doors: Mapped[list[Any]] = mapped_column(JsonDoc)
    profile: Mapped[str | None] = mapped_column(String(64))
    #: access group names (``access_groups``) whose doors the dataset adds to ``doors``.
    groups: Mapped[list[Any] | None] = mapped_column(JsonDoc)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # active | revoked
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessProfile(Base):
    """A named time profile: weekly windows in site time."""

    __tablename__ = "access_profiles"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    windows: Mapped[list[Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessGroup(Base):
    """A named set of doors (门禁组); a card issued with the group opens its doors, and an
    edit reaches every such card at the next dataset version."""

    __tablename__ = "access_groups"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    zh: Mapped[str | None] = mapped_column(String(64))
    doors: Mapped[list[Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessPass(Base):
    """A visitor pass (``contract.visitor_pass``). The token is not stored: it is signed again
    from these columns and the site secret. ``code`` is the numeric form a QR reader set to
    Wiegand output sends; no phone number is kept (none is needed)."""

    __tablename__ = "access_passes"
    __table_args__ = (Index("ix_access_passes_site_id_code", "site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(9))
    visitor_name: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    doors: Mapped[list[Any]] = mapped_column(JsonDoc)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)  # whole seconds
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    uses: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # active | revoked
    issued_by: Mapped[str] = mapped_column(String(128))
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
