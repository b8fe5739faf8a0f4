"""What the site says about its 微耕/UHPPOTE controllers and doors, and what a card holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: Door control modes as the controller numbers them.
NORMALLY_OPEN, NORMALLY_CLOSED, CONTROLLED = 1, 2, 3
MODES = {"normally_open": NORMALLY_OPEN, "normally_closed": NORMALLY_CLOSED,
         "controlled": CONTROLLED}
MODE_NAMES = {v: k for k, v in MODES.items()}
EVENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ControllerSpec:
    """One controller: its serial number and where it answers (``host:port``, UDP)."""

    id: str
    serial: int
    address: str
    doors: int = 4
    name: str = ""

    def __post_init__(self) -> None:
        if self.doors not in (1, 2, 4):
            raise ValueError(f"controller {self.id}: doors is 1, 2 or 4, not {self.doors}")
        if not 0 < self.serial < 2**32:
            raise ValueError(f"controller {self.id}: serial must be 1 … 4294967295")


@dataclass(frozen=True, slots=True)
class DoorSpec:
    """A door: which controller and which of its doors (1–4); ``egress`` doors open on fire."""

    id: str
    controller: str
    door: int
    building: str | None = None
    egress: bool = False
    name: str = ""
    #: Seconds the lock stays released after a grant (the controller's door delay).
    open_delay: int = 5


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """The site's ``access`` section.

    ``listen`` is where the edge receives pushed events (bound by the driver; port 0 picks
    one); ``announce`` is the address told to the controllers when ``listen`` is a wildcard.
    ``bind``/``broadcast`` are handed to uhppoted; every request names the controller's own
    address, so nothing is ever broadcast in normal running.
    """

    controllers: tuple[ControllerSpec, ...]
    doors: tuple[DoorSpec, ...] = ()
    listen: str = "0.0.0.0:60001"
    announce: str | None = None
    bind: str = "0.0.0.0"
    broadcast: str = "255.255.255.255:60000"
    timeout: float = 1.0
    poll_interval: float = 5.0
    offline_after: int = 3

    def controller(self, cid: str) -> ControllerSpec:
        for c in self.controllers:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def door(self, did: str) -> DoorSpec:
        for d in self.doors:
            if d.id == did:
                return d
        raise KeyError(did)


@dataclass(frozen=True, slots=True)
class CardSpec:
    """A card as a controller stores it: validity dates, per-door permission, PIN.

    ``doors`` maps door number (1–4) to 0 (no access), 1 (any time) or a time profile id
    (2–254); doors not named have no access.
    """

    number: int
    start: dt.date
    end: dt.date
    doors: dict[int, int] = field(default_factory=dict)
    pin: int = 0

    def permission(self, door: int) -> int:
        return self.doors.get(door, 0)

    def key(self) -> tuple[int, dt.date, dt.date, tuple[int, ...], int]:
        """What must match for the controller's copy to count as in step."""
        return (self.number, self.start, self.end,
                tuple(self.permission(d) for d in (1, 2, 3, 4)), self.pin)


@dataclass(frozen=True, slots=True)
class TimeProfileSpec:
    """When cards holding profile ``id`` (2–254) may open a door: a date range, weekdays
    (0 = Monday), up to three time segments, and a profile tried next (0 = none)."""

    id: int
    start: dt.date
    end: dt.date
    weekdays: frozenset[int] = frozenset(range(7))
    segments: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(0, 0), dt.time(23, 59)),)
    linked: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.id <= 254:
            raise ValueError(f"time profile id is 2–254, not {self.id}")
        if len(self.segments) > 3:
            raise ValueError("a time profile has at most three segments")
        for a, b in self.segments:
            if b < a:
                raise ValueError(f"segment {a:%H:%M}–{b:%H:%M} ends before it starts")


class ControllerError(Exception):
    """A controller did not answer, or answered something unreadable."""
