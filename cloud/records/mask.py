"""Personal data in responses: masked for actors without ``people.read``, audited for others.

An installer listing units with their owners needs to know a unit has an owner, not the
owner's phone: ``13812345678`` → ``138****5678``. An actor who may read personal data sees it
in full, and the response writes one ``view`` row to the audit log naming the records and
fields shown (one row per request, however many records it shows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record
from cloud.auth.plates import PLATES_READ, mask_plate, mask_plates, shows_plates

PEOPLE_READ = "people.read"
#: Plates are masked by ``cloud.auth.plates`` (the parking feature, below the register, uses
#: it too); the register's pages mask them through these names.
__all__ = ["PEOPLE_READ", "PLATES_READ", "guard_people", "mask_plate", "mask_plates",
           "mask_rows", "mask_value", "shows_people", "shows_plates"]


def mask_value(key: str, value: Any) -> Any:
    """A recognisable but useless form of one personal value."""
    if not isinstance(value, str) or not value:
        return value
    if key == "phone":
        digits = value.replace(" ", "").replace("-", "")
        if len(digits) >= 7:
            return f"{digits[:3]}****{digits[-4:]}"
        return "*" * len(digits)
    if key == "id_number":
        if len(value) > 7:
            return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}"
        return "*" * len(value)
    if key == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    # Names: the family name stays, so staff can still greet 张先生.
    return value[:1] + "*" * max(len(value) - 1, 1)


def mask_rows(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Mask ``keys`` of every row in place."""
    for row in rows:
        for key in keys:
            if key in row:
                row[key] = mask_value(key, row[key])


def shows_people(actor: Actor) -> bool:
    return actor.can(PEOPLE_READ)


async def guard_people(session: AsyncSession, actor: Actor, entity: str,
                       rows: Sequence[dict[str, Any]], keys: Sequence[str], *, at: datetime,
                       reason: str) -> None:
    """Mask the rows for an actor without ``people.read``; otherwise record one view row.

    The caller commits the session (the view is logged with the read it describes).
    """
    if not keys or not rows:
        return
    if not shows_people(actor):
        mask_rows(rows, keys)
        return
    shown = sorted({k for row in rows for k in keys if row.get(k)})
    if not shown:
        return
    sites = {row.get("site") for row in rows}
    record(session, at=at, actor=actor, action="view", entity=entity,
           detail={"ids": [row["id"] for row in rows], "fields": shown, "reason": reason,
                   "sites": sorted(s for s in sites if s)})
