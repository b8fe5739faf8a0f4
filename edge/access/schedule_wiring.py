"""How the door scheduler meets the rest of the edge: reader doors, guards and fire linkage.

* ``ReaderModes``: reader doors as the scheduler sets them (outputs held on or released)
  without counting as fire linkage's hold (``ReaderEgress.apply``, not ``set_door_mode``).
* ``GuardedDoor``: a scheduled door as the command channel sees it: a guard's ``door.mode``
  is carried out, then kept by the scheduler until the schedule's next change; refused while
  fire linkage holds the door open.
* ``linkage_holds``: whether fire linkage holds a door — while ``EgressDoors`` holds it, and
  also while an incident read back after a restart covers the door's building (before its
  unlock has run again), so a restart mid-fire never locks an egress door.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from contract.commands import DoorMode
from edge.access.egress import ReaderEgress
from edge.access.scheduler import OPEN, DoorScheduler
from edge.commands.doors import Door, DoorRegistry
from edge.linkage.doors import EgressDoors
from edge.linkage.engine import Linkage
from edge.linkage.model import ALL_BUILDINGS


class ReaderModes:
    def __init__(self, egress: ReaderEgress) -> None:
        self._egress = egress

    async def set_door_mode(self, door_id: str, mode: str,
                            delay: int | None = None) -> tuple[str, int]:
        return await self._egress.apply(door_id, mode)

    async def door_mode(self, door_id: str) -> tuple[str, int]:
        return await self._egress.door_mode(door_id)


class GuardedDoor:
    """``edge.commands.Door`` for a scheduled door (see the module docstring)."""

    def __init__(self, inner: Door, door_id: str, scheduler: DoorScheduler,
                 held: Callable[[str], bool]) -> None:
        self._inner = inner
        self.id = door_id
        self._scheduler = scheduler
        self._held = held

    async def open(self, *, by: str, reason: str) -> str:
        return await self._inner.open(by=by, reason=reason)

    async def set_mode(self, mode: DoorMode, *, by: str, reason: str) -> str:
        if self._held(self.id) and str(mode) != OPEN:
            raise ValueError(f"门 {self.id} 由火警联动保持常开，请先复位联动 / door {self.id} is "
                             "held open by fire linkage: reset the linkage first")
        async with self._scheduler.lock(self.id):
            detail = await self._inner.set_mode(mode, by=by, reason=reason)
            await self._scheduler.guard(self.id, str(mode), by=by)
        return (f"{detail}；时段在下次变化时接管 / {detail}; the schedule takes over at its "
                "next change")


def guard_doors(registry: DoorRegistry, scheduler: DoorScheduler,
                held: Callable[[str], bool]) -> None:
    """Put each scheduled door of ``registry`` behind a ``GuardedDoor``."""
    for key in scheduler.doors:
        door = registry.get(key)
        if door is not None and not isinstance(door, GuardedDoor):
            registry.register(key, GuardedDoor(door, key, scheduler, held))


def linkage_holds(egress: EgressDoors, linkage: Linkage | None,
                  doors: Iterable[Any]) -> Callable[[str], bool]:
    """The predicate (see the module docstring); ``doors`` have ``id``, ``building``,
    ``egress``."""
    buildings = {d.id: d.building for d in doors if d.egress}

    def held(door: str) -> bool:
        if egress.held(door):
            return True
        if linkage is None or door not in buildings:
            return False
        status = linkage.status()
        for incident in status["incidents"]:
            for action in incident.get("actions", []):
                target = action.get("target")
                if action.get("action") == "unlock_doors" and (
                        target == ALL_BUILDINGS or target == buildings[door]):
                    return True
        return False
    return held
