"""Face consent and face credentials (PIPL art. 28–29: biometric data is sensitive).

A face is enrolled only while the resident holds a current consent for ``face_access``,
recorded by staff with where the signed form is kept. Withdrawing the consent deletes the
face rows at once and hands their image refs back, to be forgotten in the blob store in the
same transaction (``cloud.blobs.forget``); the consent row stays as the proof of what was
agreed and when it ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.privacy.tables import Face, FaceConsent

FACE_ACCESS = "face_access"
#: An enrolment photo is a single face crop, not a gallery.
MAX_FACE_BYTES = 512 * 1024


async def current_consent(session: AsyncSession, resident_id: int,
                          purpose: str = FACE_ACCESS) -> FaceConsent | None:
    return (await session.scalars(select(FaceConsent).where(
        FaceConsent.resident_id == resident_id, FaceConsent.purpose == purpose,
        FaceConsent.withdrawn_at.is_(None)).order_by(FaceConsent.id.desc()).limit(1))).first()


async def drop_faces(session: AsyncSession, resident_ids: Iterable[int],
                     now: datetime) -> list[str]:
    """Delete the residents' face rows and withdraw their consents; the refs to forget
    (those no other face row still names)."""
    ids = sorted(set(resident_ids))
    if not ids:
        return []
    faces = (await session.scalars(select(Face).where(Face.resident_id.in_(ids)))).all()
    refs = {f.blob_ref for f in faces}
    await session.execute(delete(Face).where(Face.resident_id.in_(ids)))
    for consent in (await session.scalars(select(FaceConsent).where(
            FaceConsent.resident_id.in_(ids), FaceConsent.withdrawn_at.is_(None)))).all():
        consent.withdrawn_at = now
    if refs:
        still = set((await session.scalars(select(Face.blob_ref).where(
            Face.blob_ref.in_(refs)))).all())
        refs -= still
    return sorted(refs)
