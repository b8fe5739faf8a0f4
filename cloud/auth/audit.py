"""Audit trail: who changed which record (before/after) and who viewed personal data.

Every write handler records its change in the same transaction as the change itself, so the
log and the data never disagree; a record's history is its audit rows. The acting staff member
or token comes from the request (the auth middleware puts an ``Actor`` there); work done by
the console itself (ingest, bill runs started by a timer) is the ``SYSTEM`` actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.roles import allows
from cloud.auth.tables import AuditEntry


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: ``ref`` is ``user:<id>``, ``token:<id>`` or ``system``.

    ``sites``: the site ids the actor may see, None for every site (admins, the system).
    """

    ref: str
    name: str
    role: str
    sites: frozenset[int] | None = None

    def may_see(self, site_id: int | None) -> bool:
        return self.sites is None or site_id is None or site_id in self.sites

    def can(self, permission: str) -> bool:
        """Whether this actor's role holds ``permission`` (``cloud.auth.roles``)."""

        return allows(self.role, permission)


SYSTEM = Actor("system", "system", "admin", None)

#: Where the auth middleware leaves the ``Actor`` of a request.
ACTOR_KEY = web.RequestKey("courtyard.actor", Actor)


def actor_of(request: web.Request) -> Actor:
    """The request's actor; ``SYSTEM`` where no auth middleware ran (in-process callers)."""
    actor = request.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else SYSTEM


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: Decimal as string (exact), dates and times as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of a row as a JSON-safe dict (for ``before``/``after``)."""
    return {f: jsonable(getattr(row, f)) for f in fields}


def record(session: AsyncSession, *, at: datetime, actor: Actor, action: str, entity: str,
           entity_id: object | None = None, site_id: int | None = None,
           before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
           detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """Add one audit row to the session (committed with the change it describes)."""
    if before is not None and after is not None:
        keys = set(before) | set(after)
        before = {k: before.get(k) for k in keys if before.get(k) != after.get(k)}
        after = {k: after.get(k) for k in before}
    entry = AuditEntry(at=at, actor=actor.ref[:64], actor_name=actor.name[:100], action=action,
                       entity=entity, entity_id=None if entity_id is None else str(entity_id),
                       site_id=site_id,
                       before=None if before is None else jsonable(before),
                       after=None if after is None else jsonable(after),
                       detail=None if detail is None else jsonable(detail))
    session.add(entry)
    return entry
