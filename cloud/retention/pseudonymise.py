"""Pseudonymise a resident: the row stays (bills keep their unit and amounts), the person goes.

Accounting law keeps money records 30 years, so a former resident's row cannot be deleted;
instead what identifies the person is replaced (name → ``住户#<id>``) or cleared (phone, ID
number, e-mail, note) and ``pseudonymised_at`` says when. Both the purge (a resident who moved
out long ago) and an erasure request (``cloud.privacy``) call this. The audit row names the
fields changed, never their old values: an audit row that kept them would undo the purpose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record
from cloud.records.tables import Resident

#: Fields cleared (set to None); ``name`` is replaced by the placeholder instead.
CLEARED = ("phone", "id_number", "email", "note")


def placeholder(resident_id: int) -> str:
    """The name a pseudonymised resident carries: ``住户#<id>``."""
    return f"住户#{resident_id}"


async def pseudonymise_resident(session: AsyncSession, resident: Resident, now: datetime,
                                actor: Actor) -> list[str]:
    """Replace the resident's identifying fields; returns the fields changed (``[]``: none).

    Idempotent: a second call changes nothing and writes no audit row. The caller commits.
    """
    changed: list[str] = []
    name = placeholder(resident.id)
    if resident.name != name:
        resident.name = name
        changed.append("name")
    for field in CLEARED:
        if getattr(resident, field) is not None:
            setattr(resident, field, None)
            changed.append(field)
    if resident.pseudonymised_at is None:
        resident.pseudonymised_at = now
        changed.append("pseudonymised_at")
    if changed:
        resident.updated_at = now
        record(session, at=now, actor=actor, action="pseudonymise", entity="resident",
               entity_id=resident.id, site_id=resident.site_id, detail={"fields": changed})
    return changed
