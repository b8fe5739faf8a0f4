"""What family a device belongs to, learnt from the events it sends.

A site file names each device, but the console only learns a device from its first event
(``Device.kind`` stays empty, except meters, which ``meter.reading`` marks). The device page
groups by family, so ingest marks the family from the first event that tells it: a device that
sends ``gate.*`` is a barrier, ``plate.*``/``camera.*`` a plate camera, ``door.*``/
``access.*``/``controller.*`` a door controller, ``reader.*`` a card reader, ``fire.*``/
``uitd.*`` a fire panel (its transmission device), ``elevator.*`` an elevator. A kind once set
is kept (``meter`` is never overwritten by a later event). ``device.online``/``offline``,
``parking.*`` (a lane's decisions) and ``linkage.*`` (the edge's rules) name no family.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from sqlalchemy import update

from cloud.db.models import Device
from cloud.ingest.handlers import HandlerContext, StoredEvent

#: Event kind prefix → the device kind (``Device.kind``) it proves.
KIND_BY_PREFIX: Final[dict[str, str]] = {
    "gate.": "gate",
    "plate.": "camera",
    "camera.": "camera",
    "door.": "door",
    "access.": "door",
    "controller.": "door",
    "reader.": "reader",
    "fire.": "fire",
    "uitd.": "fire",
    "elevator.": "elevator",
}

#: Device kind → the family the device page groups it under (its order is the page's order).
FAMILY_OF_KIND: Final[dict[str, str]] = {
    "meter": "meter",
    "camera": "camera",
    "gate": "gate",
    "door": "access",
    "reader": "access",
    "elevator": "elevator",
    "fire": "fire",
}
FAMILIES: Final = ("meter", "camera", "gate", "access", "elevator", "fire", "other")


def kind_of_event(event_kind: str) -> str | None:
    """The device kind an event of ``event_kind`` proves, or None."""
    for prefix, kind in KIND_BY_PREFIX.items():
        if event_kind.startswith(prefix):
            return kind
    return None


def family_of(device_kind: str | None) -> str:
    """The page's family of a device kind (``other`` when unknown or not yet learnt)."""
    return FAMILY_OF_KIND.get(device_kind or "", "other")


async def on_family_event(ctx: HandlerContext, events: Sequence[StoredEvent]) -> None:
    """Mark the kind of every device in ``events`` that has none yet (one UPDATE per kind)."""
    by_kind: dict[str, set[int]] = defaultdict(set)
    for ev in events:
        kind = kind_of_event(ev.kind)
        if kind is not None:
            by_kind[kind].add(ev.device_id)
    for kind, ids in sorted(by_kind.items()):
        result = await ctx.session.execute(
            update(Device).where(Device.id.in_(sorted(ids)), Device.kind.is_(None))
            .values(kind=kind).execution_options(synchronize_session=False))
        marked = int(getattr(result, "rowcount", 0) or 0)
        if marked:
            ctx.count("device_kind_learnt", marked)
