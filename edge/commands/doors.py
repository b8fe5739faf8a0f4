"""Doors the console can act on (``door.open``, ``door.mode``): what an access driver offers.

The access-control drivers (微耕/UHPPOTE controllers, OSDP readers) live under
``drivers/access`` and may not import the edge, so the contract is structural: whatever part
of the edge starts an access driver registers each of its doors here under the door's key from
the site file (``DoorRegistry.register``), with an object that has the two methods of
``Door``. The command runner looks doors up by key; an unknown key is refused naming it.

A ``Door`` records its own action as an ordinary event (as the gate driver records
``gate.opened`` before it pulses), returns a short zh-CN / English detail, and signals:

* ``LookupError`` or ``ValueError``: not done because the door or its state forbids it
  (offline controller, mode not supported …) — replied ``refused`` with the message;
* any other exception (``OSError``, ``TimeoutError`` …): it failed — replied ``failed``.

The runner bounds each call with its own timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from contract.commands import DoorMode


class Door(Protocol):
    """One door as an access driver exposes it to remote commands."""

    async def open(self, *, by: str, reason: str) -> str:
        """Release the lock once (the door's normal open time); the detail says so."""
        ...

    async def set_mode(self, mode: DoorMode, *, by: str, reason: str) -> str:
        """Normally open, normally closed, or controlled (back to cards and schedules)."""
        ...


class DoorRegistry:
    """Door key → the driver's door; drivers register as they start and leave as they stop."""

    def __init__(self) -> None:
        self._doors: dict[str, Door] = {}

    def register(self, key: str, door: Door) -> None:
        """Make ``door`` answer commands for ``key`` (a restarted driver replaces its own)."""
        self._doors[key] = door

    def unregister(self, key: str, door: Door | None = None) -> None:
        """Drop ``key`` (only if it is still ``door``, when given)."""
        if door is None or self._doors.get(key) is door:
            self._doors.pop(key, None)

    def get(self, key: str) -> Door | None:
        return self._doors.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._doors))

    def __len__(self) -> int:
        return len(self._doors)
