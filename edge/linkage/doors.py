"""What fire linkage needs of the access-control driver: unlock a building's egress doors.

No access-control driver exists yet; ``NoDoors`` stands in so every unlock is still planned,
logged and reported (as ``noop``), and the guard board shows that nobody unlocked the doors.
"""

from __future__ import annotations

from typing import Protocol

from edge.linkage.model import ActionOutcome

NO_DOOR_DRIVER = "门禁驱动未接入 / no access-control driver yet"


class DoorControl(Protocol):
    """The access-control driver's linkage commands.

    ``building`` is a building id from the site YAML, or ``"*"`` (``ALL_BUILDINGS``) for every
    building: an alarm whose location is unknown unlocks all egress doors. Errors may be
    raised or answered as ``failed``; linkage retries once either way.
    """

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome: ...

    async def restore(self, building: str, *, by: str) -> ActionOutcome: ...


class NoDoors:
    """The door driver until there is one: every command is a ``noop`` that says why."""

    async def unlock_egress(self, building: str, *, by: str, reason: str) -> ActionOutcome:
        return ActionOutcome("noop", NO_DOOR_DRIVER)

    async def restore(self, building: str, *, by: str) -> ActionOutcome:
        return ActionOutcome("noop", NO_DOOR_DRIVER)
