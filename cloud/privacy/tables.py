"""The ``privacy_requests``, ``face_consents`` and ``faces`` tables (issue 16, §3).

A request row is the record that a data subject's request was handled: who asked for it, when,
and what was done (counts only: the request log must not become a copy of what was erased).
A face consent is separate consent for one purpose (PIPL art. 29); withdrawing it keeps the
row (the proof that consent existed and when it ended) and deletes the face data. A face row
names its enrolment photo by blob ref; the bytes live in the blob store (data class ``faces``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import JsonDoc, UTCDateTime

REQUEST_KINDS = ("export", "erasure")
#: The purposes a consent may be given for: one, until a second use of faces exists.
PURPOSES = ("face_access",)
#: The blob store's data class of enrolment photos.
FACES_CLASS = "faces"


class PrivacyRequest(Base):
    """One export or erasure of one resident's data."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index(None, "resident_id", "id"), Index(None, "site_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(Integer)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # REQUEST_KINDS
    #: The actor ref (``user:<id>`` / ``token:<id>``) and name at the time.
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    #: What was done: counts per kind of record, never the records themselves.
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class FaceConsent(Base):
    """A resident's consent to one use of their face; current while ``withdrawn_at`` is None."""

    __tablename__ = "face_consents"
    __table_args__ = (Index(None, "resident_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))  # PURPOSES
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The staff member who recorded it (actor ref), and where the signed form is kept.
    recorded_by: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(String(500))


class Face(Base):
    """A face credential: the enrolment photo of one resident at one site."""

    __tablename__ = "faces"
    __table_args__ = (Index(None, "resident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    #: ``sha256:<hex>`` in the blob store.
    blob_ref: Mapped[str] = mapped_column(String(80))
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
